package seller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// The stored form of a session (Config.Store). It holds what the node needs
// to continue the negotiation after a restart or on another process: the
// PROPOSE terms, the negotiation state and the transcript, bodies in their
// canonical form. Hashes are not stored: they are recomputed, and the
// chain (session, seq, prev) checked, when a record is read. A tombstone
// (Gone) keeps a dropped session's id taken until its PROPOSE has expired.

// storedFormat is the version of the stored form.
const storedFormat = 1

// storedSlack is what the stored form may hold beyond MaxSessionBytes: JSON
// keys and quoting around what the table's accounting counts.
const storedSlack = 64 << 10

// ErrStoredSession is returned for a stored session record that cannot be
// read back: too large, not strict JSON of the stored form, another
// domain's or session's, or a transcript whose chain is broken.
var ErrStoredSession = errors.New("seller: stored session record is corrupt")

// storedSession is the JSON of one stored session.
type storedSession struct {
	V      int    `json:"v"`
	Domain string `json:"domain"`
	ID     string `json:"id"`
	// Until is when the session's PROPOSE can no longer be accepted (its
	// exp plus the clock skew allowance), unix ms.
	Until int64 `json:"until"`
	Gone  bool  `json:"gone,omitempty"`

	BuyerKey   string           `json:"buyer_key,omitempty"`
	Propose    *anp.ProposeBody `json:"propose,omitempty"`
	Credential string           `json:"credential,omitempty"` // sealed (storedcred.go)
	State      State            `json:"state,omitempty"`
	Turn       int              `json:"turn,omitempty"`
	LastAsk    *anp.Money       `json:"last_ask,omitempty"`
	LastOffer  *anp.Money       `json:"last_offer,omitempty"`
	FinalGiven bool             `json:"final_given,omitempty"`
	Accepted   *anp.Money       `json:"accepted,omitempty"`
	AcceptSeq  uint64           `json:"accept_seq,omitempty"` // seq of the node's ACCEPT
	SignedSig  string           `json:"signed_sig,omitempty"`
	Envelopes  []*anp.Envelope  `json:"envelopes,omitempty"`
	LastBuyer  uint64           `json:"last_buyer,omitempty"` // seq of the latest buyer envelope
	LastReply  uint64           `json:"last_reply,omitempty"` // seq of the reply to it, 0 while pending
	Pending    bool             `json:"pending,omitempty"`
	LastActive int64            `json:"last_active,omitempty"` // unix ms
	FreshSince int64            `json:"fresh_since,omitempty"` // unix ms; 0: not fresh
}

// encodeSession returns the stored form of s. The caller holds s.mu.
func (n *Node) encodeSession(s *session) ([]byte, error) {
	st := storedSession{
		V: storedFormat, Domain: n.domain, ID: s.id, Until: s.until,
		BuyerKey: s.buyerKey, Propose: &s.propose,
		State: s.state, Turn: s.turn, LastAsk: s.lastAsk, LastOffer: s.lastOffer, FinalGiven: s.finalGiven,
		Accepted: s.accepted, SignedSig: s.signedSig, Envelopes: s.transcript.Envelopes,
		Pending: s.pending, LastActive: s.lastActive.UnixMilli(),
	}
	if s.acceptEnv != nil {
		st.AcceptSeq = s.acceptEnv.Seq
	}
	var err error
	if st.Credential, err = n.creds.seal(n.domain, s.id, s.credential); err != nil {
		return nil, err
	}
	if s.lastReply != nil {
		st.LastReply = s.lastReply.Seq
	}
	st.LastBuyer = seqOfHash(&s.transcript, s.lastBuyer)
	if s.fresh {
		st.FreshSince = s.freshSince.UnixMilli()
	}
	data, err := marshalStored(&st)
	if err != nil {
		return nil, fmt.Errorf("seller: encode session %s: %w", s.id, err)
	}
	if int64(len(data)) > n.cfg.MaxSessionBytes+storedSlack {
		return nil, anp.Errorf(anp.CodeTooLarge, "session %s would be stored in %d bytes, more than the %d a session may hold", s.id, len(data), n.cfg.MaxSessionBytes+storedSlack)
	}
	return data, nil
}

// tombstone returns the stored form of a dropped session whose id stays
// taken until untilMs.
func (n *Node) tombstone(id string, untilMs int64) []byte {
	data, _ := marshalStored(&storedSession{V: storedFormat, Domain: n.domain, ID: id, Until: untilMs, Gone: true})
	return data
}

// marshalStored encodes st without HTML escaping: the envelope bodies keep
// the exact canonical bytes their signatures and hashes cover.
func marshalStored(st *storedSession) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// seqOfHash returns the seq of the envelope of the transcript t whose
// hash is h, found from the end (the latest buyer envelope is one of the
// last), or 0. No hash is computed: in a checked chain the hash of an
// envelope is the next one's prev, and the last one's is the head.
func seqOfHash(t *anp.Transcript, h string) uint64 {
	if h == "" {
		return 0
	}
	envs := t.Envelopes
	for i := len(envs) - 1; i >= 0; i-- {
		eh := t.Head
		if i+1 < len(envs) {
			eh = envs[i+1].Prev
		}
		if eh == h {
			return envs[i].Seq
		}
	}
	return 0
}

// decodeStored reads a stored record of session id for domain, at most
// limit bytes. Every failure wraps ErrStoredSession.
func decodeStored(data []byte, domain, id string, limit int64) (*storedSession, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: session %s: %s", ErrStoredSession, anp.Truncate(id, 64), fmt.Sprintf(format, args...))
	}
	if int64(len(data)) > limit {
		return nil, fail("%d bytes, more than the %d a stored session may hold", len(data), limit)
	}
	var st storedSession
	if err := anp.DecodeStrict(data, &st); err != nil {
		return nil, fail("%v", err)
	}
	switch {
	case st.V != storedFormat:
		return nil, fail("format %d, want %d", st.V, storedFormat)
	case st.Domain != domain:
		return nil, fail("it belongs to domain %q, not %q", anp.Truncate(st.Domain, anp.MaxDomainLen), domain)
	case st.ID != id:
		return nil, fail("it holds session %q", anp.Truncate(st.ID, 64))
	case st.Until <= 0:
		return nil, fail("no expiry of its PROPOSE")
	case st.Gone:
		return &st, nil
	}
	if err := st.check(); err != nil {
		return nil, fail("%v", err)
	}
	return &st, nil
}

// check checks a stored live session: its PROPOSE, state and counters, and
// the seqs it names within its transcript.
func (st *storedSession) check() error {
	switch {
	case st.Propose == nil:
		return errors.New("no PROPOSE terms")
	case st.Propose.Credential != "":
		return errors.New("a sealed credential is kept")
	case st.Propose.Validate() != nil:
		return fmt.Errorf("PROPOSE terms: %v", st.Propose.Validate())
	case !validState(st.State):
		return fmt.Errorf("unknown state %q", anp.Truncate(string(st.State), 16))
	case st.Turn < 1 || st.LastActive <= 0 || st.FreshSince < 0:
		return errors.New("turn or times out of range")
	}
	return st.checkSeqs()
}

// checkSeqs checks the transcript's length and the seqs the stored session
// names within it: the buyer's PROPOSE, the ACCEPT, the latest buyer
// envelope and its reply.
func (st *storedSession) checkSeqs() error {
	switch {
	case len(st.Envelopes) < 2 || len(st.Envelopes) > MaxTranscript:
		return fmt.Errorf("%d envelopes, want 2 to %d", len(st.Envelopes), MaxTranscript)
	case st.Envelopes[0] == nil || st.BuyerKey == "" || st.Envelopes[0].From != st.BuyerKey:
		return errors.New("the buyer key is not the signer of the PROPOSE")
	case (st.Accepted == nil) != (st.AcceptSeq == 0):
		return errors.New("an accepted price without its ACCEPT, or the reverse")
	case st.LastBuyer == 0 || st.LastBuyer > uint64(len(st.Envelopes)) || st.LastReply > uint64(len(st.Envelopes)):
		return errors.New("the latest buyer envelope or reply is outside the transcript")
	case st.Pending && st.LastReply != 0:
		return errors.New("an answer both pending and given")
	}
	if st.AcceptSeq != 0 && (st.AcceptSeq > uint64(len(st.Envelopes)) || st.Envelopes[st.AcceptSeq-1].Type != anp.TypeAccept) {
		return fmt.Errorf("seq %d is not an ACCEPT", st.AcceptSeq)
	}
	return nil
}

// validState reports whether s is a state a stored session can be in.
func validState(s State) bool {
	switch s {
	case StateOpen, StateAccepted, StateSigned, StateCancelled, StateExpired:
		return true
	}
	return false
}

// chain checks the transcript's chain — the session, seq and prev of
// every envelope — and returns the hash of each.
func (st *storedSession) chain() ([]string, error) {
	hashes := make([]string, len(st.Envelopes))
	prev := ""
	for i, e := range st.Envelopes {
		if e == nil || e.Session != st.ID || e.Seq != uint64(i+1) || e.Prev != prev {
			return nil, fmt.Errorf("%w: session %s: envelope %d breaks the chain", ErrStoredSession, st.ID, i+1)
		}
		h, err := e.Hash()
		if err != nil {
			return nil, fmt.Errorf("%w: session %s: envelope %d: %v", ErrStoredSession, st.ID, i+1, err)
		}
		hashes[i], prev = h, h
	}
	return hashes, nil
}

// session returns the live stored session as the node's session value
// (without its lock, table links or version), its credential opened by c.
func (st *storedSession) session(c credSealer) (*session, error) {
	hashes, err := st.chain()
	if err != nil {
		return nil, err
	}
	cred, err := c.open(st.Domain, st.ID, st.Credential)
	if err != nil {
		return nil, err
	}
	s := &session{
		id: st.ID, until: st.Until, buyerKey: st.BuyerKey, propose: *st.Propose, credential: cred,
		state: st.State, turn: st.Turn, lastAsk: st.LastAsk, lastOffer: st.LastOffer, finalGiven: st.FinalGiven,
		accepted: st.Accepted, signedSig: st.SignedSig, pending: st.Pending,
		transcript: anp.Transcript{Envelopes: st.Envelopes, Head: hashes[len(hashes)-1]},
		lastActive: time.UnixMilli(st.LastActive), lastBuyer: hashes[st.LastBuyer-1],
	}
	if st.AcceptSeq != 0 {
		s.acceptEnv, s.acceptHash = st.Envelopes[st.AcceptSeq-1], hashes[st.AcceptSeq-1]
	}
	if st.LastReply != 0 {
		s.lastReply = st.Envelopes[st.LastReply-1]
	}
	if st.FreshSince != 0 {
		s.fresh, s.freshSince = true, time.UnixMilli(st.FreshSince)
	}
	s.bytes = proposeCost(&s.propose)
	for _, e := range st.Envelopes {
		s.bytes += envelopeCost(e)
	}
	return s, nil
}
