package anptest

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Party is the buyer side of one session: an ephemeral session key, the
// session id, the seller address it writes to and its own copy of the
// transcript, which it checks like a buyer does before it appends.
//
// Its methods stop the test on failure, so call them from the test
// goroutine only.
type Party struct {
	t       testing.TB
	Key     ed25519.PrivateKey
	Pub     string // PubHex(Key)
	Session string
	To      string           // the seller address every envelope names
	Peer    string           // hex key seller envelopes must be signed by; "" accepts any signer
	Now     func() time.Time // the time envelopes are sealed and checked at
	Tr      anp.Transcript
}

// NewParty returns the buyer of a new session with seller to, with a fresh
// session key, a new session id and the clock now (time.Now when nil).
func NewParty(t testing.TB, to string, now func() time.Time) *Party {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	key := NewKey(t)
	return &Party{t: t, Key: key, Pub: PubHex(key), Session: anp.NewSessionID(), To: to, Now: now}
}

// T returns the test the party reports its failures to.
func (p *Party) T() testing.TB { return p.t }

// Spec describes the next buyer envelope: the next seq, chained to the
// transcript head, sealed now. Change it to seal a deliberately wrong
// envelope with SealSpec.
func (p *Party) Spec(typ anp.MsgType, body any) anp.EnvelopeSpec {
	return anp.EnvelopeSpec{Type: typ, Session: p.Session, Seq: p.Tr.NextSeq(), Prev: p.Tr.Head, To: p.To, Body: body, Now: p.Now()}
}

// TrySeal signs the next buyer envelope without recording it and returns
// the error of a body that cannot be signed.
func (p *Party) TrySeal(typ anp.MsgType, body any) (*anp.Envelope, error) {
	return anp.Seal(p.Key, p.Spec(typ, body))
}

// Seal signs the next buyer envelope without recording it.
func (p *Party) Seal(typ anp.MsgType, body any) *anp.Envelope {
	p.t.Helper()
	return p.SealSpec(p.Spec(typ, body))
}

// SealSpec signs an envelope described by spec with the session key.
func (p *Party) SealSpec(spec anp.EnvelopeSpec) *anp.Envelope {
	p.t.Helper()
	env, err := anp.Seal(p.Key, spec)
	if err != nil {
		p.t.Fatalf("seal %s: %v", spec.Type, err)
	}
	return env
}

// Record appends an envelope the party sent, after checking it is the
// party's own next envelope.
func (p *Party) Record(env *anp.Envelope) {
	p.t.Helper()
	if err := p.Tr.Append(env, anp.Expect{Session: p.Session, From: p.Pub, To: p.To, Now: p.Now()}); err != nil {
		p.t.Fatalf("record own %s seq %d: %v", env.Type, env.Seq, err)
	}
}

// Accept appends a seller envelope after checking it as a buyer does:
// signed by Peer (when set), addressed to the party's key, next in the
// chain, fresh.
func (p *Party) Accept(env *anp.Envelope) {
	p.t.Helper()
	if err := p.Tr.Append(env, anp.Expect{Session: p.Session, From: p.Peer, To: p.Pub, Now: p.Now()}); err != nil {
		p.t.Fatalf("seller %s seq %d does not verify: %v", env.Type, env.Seq, err)
	}
}

// Terms returns the deal the party signs for the seller's ACCEPT (or, for
// refusal tests, any seller offer) accept of the transcript: the proposal's
// item, quantity and terms at the offer's price, with sellerKey as the
// seller's hex key, created now.
func (p *Party) Terms(accept *anp.Envelope, proposal anp.ProposeBody, sellerKey string) anp.DealTerms {
	p.t.Helper()
	offer := Body[anp.OfferBody](p.t, accept)
	return anp.DealTerms{
		V: anp.Version, SessionID: p.Session, Mode: proposal.Mode, SellerDomain: p.To, SellerKey: sellerKey, BuyerKey: p.Pub,
		Item: proposal.Item, Quantity: proposal.Quantity, Terms: proposal.Terms, Price: offer.Price,
		TranscriptHead: Hash(p.t, accept), TranscriptLen: accept.Seq, AgreedAt: accept.TS, CreatedAt: p.Now().UnixMilli(),
	}
}

// Answer seals the seller's answer to env with key: the next seq, chained to
// env, addressed to env's signer. It does not stop a test, so HTTP handler
// goroutines of a stub seller may call it.
func Answer(key ed25519.PrivateKey, env *anp.Envelope, typ anp.MsgType, body any, now time.Time) (*anp.Envelope, error) {
	prev, err := env.Hash()
	if err != nil {
		return nil, err
	}
	return anp.Seal(key, anp.EnvelopeSpec{Type: typ, Session: env.Session, Seq: env.Seq + 1, Prev: prev, To: env.From, Body: body, Now: now})
}
