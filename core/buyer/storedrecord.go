package buyer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/readonce"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// ErrCorruptRecord is the failure of a stored session record that does not
// decode in its one reading: a duplicate key, a key that is not exactly the
// field's name, an unknown member, an integer out of range or malformed
// JSON (anp.DecodeStrict; errors.Is also finds the named anp failure). A
// record holds signed envelopes and the pinned seller key, so a store that
// was written to behind the engine's back is refused, not read leniently.
// An imported session whose transcript does not bind its artifact fails
// with it too.
var ErrCorruptRecord = errors.New("stored session record does not decode strictly")

// ErrRecordForm is the failure of a stored session record in a form this
// engine does not read (written by a newer engine sharing the store).
var ErrRecordForm = errors.New("stored session record is in a form this engine does not read")

// recordForm is the form of the session records this engine writes. Form 1
// is the record type's own encoding (no "form" member; still read, and the
// form of sessions inside an export); form 2 is storedRecord. An engine
// that reads only form 1 refuses form 2: its strict decoder refuses the
// unknown member "form".
const recordForm = 2

// formPrefix starts every form-2 record: form is its first member.
var formPrefix = []byte(`{"form":`)

// storedRecord is form 2 of a stored session record: the record without
// what its transcript repeats. The PROPOSE body is the body of envelope 1,
// the seller key is the sender of the last seller envelope, the transcript
// head is the hash of the last envelope, the session's address is its mode
// and domain; each but the head is written only when it differs (a record
// whose head is not that hash cannot take a next envelope anyway). The session's version
// is the store's and is not written, nor a false awaiting_seller.
type storedRecord struct {
	Form         int              `json:"form"`
	Session      storedSession    `json:"session"`
	SealedKey    []byte           `json:"sealed_key,omitempty"`
	SellerKey    *string          `json:"seller_key,omitempty"`
	Propose      *anp.ProposeBody `json:"propose,omitempty"`
	Envelopes    []*anp.Envelope  `json:"envelopes,omitempty"`
	AcceptSeq    uint64           `json:"accept_seq,omitempty"`
	Pending      *anp.Artifact    `json:"pending,omitempty"`
	Outbox       *anp.Envelope    `json:"outbox,omitempty"`
	OutboxFailed bool             `json:"outbox_failed,omitempty"`
	CascadeHold  bool             `json:"cascade_hold,omitempty"`
}

// storedSession is Session as form 2 stores it: the same fields (the
// conversion between the two does not compile otherwise), with the
// version left out and the address and a false awaiting_seller omitted.
type storedSession struct {
	ID              string            `json:"id"`
	Seller          string            `json:"seller"`
	Address         string            `json:"address,omitempty"`
	Mode            anp.Mode          `json:"mode"`
	State           State             `json:"state"`
	Turn            int               `json:"turn"`
	MaxTurns        int               `json:"max_turns"`
	Item            string            `json:"item"`
	Category        string            `json:"category,omitempty"`
	Quantity        int               `json:"quantity"`
	Terms           map[string]string `json:"terms,omitempty"`
	MaxBudget       anp.Money         `json:"max_budget"`
	LastSellerPrice *anp.Money        `json:"last_seller_price,omitempty"`
	LastOwnOffer    *anp.Money        `json:"last_own_offer,omitempty"`
	AgreedPrice     *anp.Money        `json:"agreed_price,omitempty"`
	SellerMessage   string            `json:"seller_message,omitempty"`
	SellerFinal     bool              `json:"seller_final,omitempty"`
	AwaitingSeller  bool              `json:"awaiting_seller,omitempty"`
	Escalated       bool              `json:"escalated,omitempty"`
	Escalation      *Escalation       `json:"escalation,omitempty"`
	Reason          string            `json:"reason,omitempty"`
	KeyNotice       string            `json:"key_notice,omitempty"`
	Deadline        time.Time         `json:"deadline"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	TranscriptLen   int               `json:"transcript_len"`
	Artifact        *anp.Artifact     `json:"artifact,omitempty"`
	Deal            *DealInfo         `json:"deal,omitempty"`
	Decider         string            `json:"decider,omitempty"`
	Rounds          []Round           `json:"rounds,omitempty"`
	Approvals       []Approval        `json:"approvals,omitempty"`
	Decision        *Room             `json:"decision,omitempty"`
	QuestionsAsked  int               `json:"questions_asked,omitempty"`
	Version         int64             `json:"-"`
}

// sessionAddress is the address a session's mode and domain make.
func sessionAddress(mode anp.Mode, domain string) string {
	return anp.Address{Mode: mode, Domain: domain}.String()
}

// toSession is the session a stored one holds.
func (s *storedSession) toSession() Session {
	out := Session(*s)
	if out.Address == "" {
		out.Address = sessionAddress(out.Mode, out.Seller)
	}
	return out
}

// transcriptSellerKey is the sender of the last envelope not sent by the
// session key that sent the PROPOSE; "" when there is none.
func transcriptSellerKey(envs []*anp.Envelope) string {
	for i := len(envs) - 1; i > 0; i-- {
		if envs[i].From != envs[0].From {
			return envs[i].From
		}
	}
	return ""
}

// transcriptPropose is the body of the transcript's PROPOSE; ok is false
// when there is none or it does not decode.
func transcriptPropose(envs []*anp.Envelope) (anp.ProposeBody, bool) {
	var b anp.ProposeBody
	if len(envs) == 0 || envs[0].Type != anp.TypePropose || json.Unmarshal(envs[0].Body, &b) != nil {
		return anp.ProposeBody{}, false
	}
	return b, true
}

// storedRecordOf is r in form 2.
func storedRecordOf(r *record) *storedRecord {
	sr := &storedRecord{Form: recordForm, Session: storedSession(r.Session), SealedKey: r.SealedKey,
		Envelopes: r.Transcript.Envelopes, AcceptSeq: r.AcceptSeq, Pending: r.Pending,
		Outbox: r.Outbox, OutboxFailed: r.OutboxFailed, CascadeHold: r.CascadeHold}
	if sr.Session.Address == sessionAddress(r.Session.Mode, r.Session.Seller) {
		sr.Session.Address = ""
	}
	if r.SellerKey != transcriptSellerKey(r.Transcript.Envelopes) {
		sr.SellerKey = &r.SellerKey
	}
	if !r.propose.sameAsTranscript(r.Transcript.Envelopes, &r.Propose) {
		sr.Propose = &r.Propose
	}
	return sr
}

// toRecord is the record a form-2 record holds.
func (sr *storedRecord) toRecord() (*record, error) {
	if sr.Form != recordForm {
		return nil, fmt.Errorf("%w: form %d (this engine reads forms 1 and %d)", ErrRecordForm, sr.Form, recordForm)
	}
	r := &record{Session: sr.Session.toSession(), SealedKey: sr.SealedKey,
		Transcript: anp.Transcript{Envelopes: sr.Envelopes}, AcceptSeq: sr.AcceptSeq, Pending: sr.Pending,
		Outbox: sr.Outbox, OutboxFailed: sr.OutboxFailed, CascadeHold: sr.CascadeHold}
	r.SellerKey = transcriptSellerKey(sr.Envelopes)
	if sr.SellerKey != nil {
		r.SellerKey = *sr.SellerKey
	}
	if sr.Propose != nil {
		r.Propose = *sr.Propose
	} else if p, ok := transcriptPropose(sr.Envelopes); ok {
		r.Propose = p
	}
	if n := len(sr.Envelopes); n > 0 {
		head, err := sr.Envelopes[n-1].Hash()
		if err != nil {
			return nil, fmt.Errorf("transcript head: %w", err)
		}
		r.Transcript.Head = head
	}
	return r, nil
}

// decodeStored decodes a stored record of either form, strictly or (for
// bytes already read strictly) plainly.
func decodeStored(data []byte, strict bool) (*record, error) {
	decode := json.Unmarshal
	if strict {
		decode = anp.DecodeStrict
	}
	if !bytes.HasPrefix(data, formPrefix) {
		var r record
		if err := decode(data, &r); err != nil {
			return nil, err
		}
		return &r, nil
	}
	var sr storedRecord
	if err := decode(data, &sr); err != nil {
		return nil, err
	}
	return sr.toRecord()
}

// decodeRecord decodes a stored session record strictly. The bytes this
// engine saved last for a session are not decoded (hotRecords). Bytes this engine
// wrote or already read strictly (the same session, the same SHA-256) are
// not scanned again: the strict pre-pass costs several times a plain decode
// and a session is read on every move, while identical bytes have one
// reading.
func (c *Core) decodeRecord(sr store.SessionRecord) (*record, error) {
	sum := readonce.Sum(sr.Data)
	if r, ok := c.hot.get(sr.ID, sum); ok {
		r.Session.Version = sr.Version
		return r, nil
	}
	strict := !c.checked.Has(sr.ID, sum)
	r, err := decodeStored(sr.Data, strict)
	switch {
	case errors.Is(err, ErrRecordForm):
		return nil, fmt.Errorf("buyer: session %s: %w", sr.ID, err)
	case err != nil && strict:
		return nil, fmt.Errorf("buyer: session %s: %w: %w", sr.ID, ErrCorruptRecord, err)
	case err != nil:
		return nil, fmt.Errorf("buyer: session %s: %w", sr.ID, err)
	}
	if strict {
		c.checked.Add(sr.ID, sum)
	}
	r.Session.Version = sr.Version
	r.sigs = c.sigs
	return r, nil
}

// maxCheckedRecords bounds Core.checked; past it the memory starts over.
const maxCheckedRecords = 1 << 16
