package anp_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// The fixed keys of the tests and of the vectors under testdata/anp. Each is
// derived from a 32-byte Ed25519 seed of consecutive byte values, so any
// implementation can rebuild them.
var (
	buyerKey    = seedKey(0x01) // buyer's ephemeral session key: 0x01..0x20
	sellerKey   = seedKey(0x21) // seller identity key bound to the domain: 0x21..0x40
	rootKey     = seedKey(0x41) // registry root key: 0x41..0x60
	notaryKey   = seedKey(0x61) // registry chain key 0: 0x61..0x80
	nextKey     = seedKey(0x81) // registry chain key 1: 0x81..0xa0
	identityKey = seedKey(0xa1) // buyer's permanent identity key: 0xa1..0xc0
	strangerKey = seedKey(0xc1) // a key nobody expects: 0xc1..0xe0
)

// Fixed values of the fixtures.
const (
	t0Ms         int64 = 1735689600000 // 2025-01-01T00:00:00Z
	sessionID          = "0123456789abcdef0123456789abcdef"
	sellerDomain       = "kitchen-outlet.anp"
	itemName           = "Cast iron skillet, 12 inch"
	ttlMs        int64 = 5 * 60 * 1000
)

var t0 = time.UnixMilli(t0Ms).UTC()

// seedKey returns the Ed25519 key whose seed is first, first+1, ..., first+31.
func seedKey(first byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = first + byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// pub returns the hex public key of k.
func pub(k ed25519.PrivateKey) string { return anp.PublicKeyHex(k.Public().(ed25519.PublicKey)) }

// fixedNonce returns a nonce made of byte b repeated NonceBytes times.
func fixedNonce(b byte) string { return strings.Repeat(fmt.Sprintf("%02x", b), anp.NonceBytes) }

func mustCanonical(tb testing.TB, v any) []byte {
	tb.Helper()
	c, err := anp.Canonical(v)
	if err != nil {
		tb.Fatalf("canonical: %v", err)
	}
	return c
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return b
}

func mustHash(tb testing.TB, e *anp.Envelope) string {
	tb.Helper()
	h, err := e.Hash()
	if err != nil {
		tb.Fatalf("envelope hash: %v", err)
	}
	return h
}

// envelopeFields is everything a sender decides about an envelope, so that
// tests can build envelopes by hand with fixed nonces and times.
type envelopeFields struct {
	Type    anp.MsgType
	Session string
	Seq     uint64
	Prev    string
	To      string
	TS      int64
	Exp     int64 // 0 means TS + 5 minutes
	Nonce   string
	Body    any
}

// signEnvelope fills an envelope from f and signs it the way Seal does, with
// anp.Sign over the envelope without its signature.
func signEnvelope(tb testing.TB, key ed25519.PrivateKey, f envelopeFields) *anp.Envelope {
	tb.Helper()
	if f.Session == "" {
		f.Session = sessionID
	}
	if f.Exp == 0 {
		f.Exp = f.TS + ttlMs
	}
	e := &anp.Envelope{
		V: anp.Version, Type: f.Type, Session: f.Session, Seq: f.Seq, Prev: f.Prev,
		From: pub(key), To: f.To, TS: f.TS, Exp: f.Exp, Nonce: f.Nonce,
		Body: mustCanonical(tb, f.Body),
	}
	resign(tb, key, e)
	return e
}

// resign replaces e's signature with key's signature over e's other fields.
func resign(tb testing.TB, key ed25519.PrivateKey, e *anp.Envelope) {
	tb.Helper()
	e.Sig = ""
	sig, err := anp.Sign(key, anp.PurposeEnvelope, e)
	if err != nil {
		tb.Fatalf("sign envelope: %v", err)
	}
	e.Sig = sig
}

// cloneEnvelope returns a deep copy of e.
func cloneEnvelope(e *anp.Envelope) *anp.Envelope {
	c := *e
	c.Body = append([]byte(nil), e.Body...)
	return &c
}

func proposeBody() *anp.ProposeBody {
	return &anp.ProposeBody{
		Mode: anp.ModeC, Item: itemName, Category: "kitchen", Quantity: 1, Currency: "USD",
		Terms: map[string]string{"shipping": "standard"},
		Offer: &anp.Money{Amount: 8000, Currency: "USD"},
	}
}

// negotiation is a complete, valid four-envelope session: the buyer proposes
// with an opening offer, the seller counters, the buyer counters and the
// seller accepts.
type negotiation struct {
	Propose, SellerCounter, BuyerCounter, Accept *anp.Envelope
}

func (n negotiation) envelopes() []*anp.Envelope {
	return []*anp.Envelope{n.Propose, n.SellerCounter, n.BuyerCounter, n.Accept}
}

func buildNegotiation(tb testing.TB) negotiation {
	tb.Helper()
	var n negotiation
	n.Propose = signEnvelope(tb, buyerKey, envelopeFields{
		Type: anp.TypePropose, Seq: 1, To: sellerDomain, TS: t0Ms + 1000, Nonce: fixedNonce(0x01),
		Body: proposeBody(),
	})
	n.SellerCounter = signEnvelope(tb, sellerKey, envelopeFields{
		Type: anp.TypeCounter, Seq: 2, Prev: mustHash(tb, n.Propose), To: pub(buyerKey), TS: t0Ms + 2000, Nonce: fixedNonce(0x02),
		Body: &anp.OfferBody{Price: anp.Money{Amount: 9900, Currency: "USD"}, Turn: 1, Message: "Our best price today is 99.00 USD."},
	})
	n.BuyerCounter = signEnvelope(tb, buyerKey, envelopeFields{
		Type: anp.TypeCounter, Seq: 3, Prev: mustHash(tb, n.SellerCounter), To: sellerDomain, TS: t0Ms + 3000, Nonce: fixedNonce(0x03),
		Body: &anp.OfferBody{Price: anp.Money{Amount: 8500, Currency: "USD"}, Turn: 2},
	})
	n.Accept = signEnvelope(tb, sellerKey, envelopeFields{
		Type: anp.TypeAccept, Seq: 4, Prev: mustHash(tb, n.BuyerCounter), To: pub(buyerKey), TS: t0Ms + 4000, Nonce: fixedNonce(0x04),
		Body: &anp.OfferBody{Price: anp.Money{Amount: 8500, Currency: "USD"}, Turn: 2, Message: "Deal at 85.00 USD."},
	})
	return n
}

// buildKeyChain returns a two-entry registry key chain signed by root:
// entry 0 (chain0) valid [t0-24h, t0+1h), entry 1 (chain1) valid [t0+55m, t0+25h).
func buildKeyChain(tb testing.TB, root, chain0, chain1 ed25519.PrivateKey) []anp.KeyEntry {
	tb.Helper()
	e0, err := anp.NewKeyEntry(root, nil, chain0.Public().(ed25519.PublicKey), t0.Add(-24*time.Hour), t0.Add(time.Hour))
	if err != nil {
		tb.Fatalf("key entry 0: %v", err)
	}
	e1, err := anp.NewKeyEntry(root, &e0, chain1.Public().(ed25519.PublicKey), t0.Add(55*time.Minute), t0.Add(25*time.Hour))
	if err != nil {
		tb.Fatalf("key entry 1: %v", err)
	}
	return []anp.KeyEntry{e0, e1}
}

func dealTerms(tb testing.TB, n negotiation) anp.DealTerms {
	tb.Helper()
	return anp.DealTerms{
		V: anp.Version, SessionID: sessionID, Mode: anp.ModeC, SellerDomain: sellerDomain,
		SellerKey: pub(sellerKey), BuyerKey: pub(buyerKey), Item: itemName, Quantity: 1,
		Terms: map[string]string{"shipping": "standard"}, Price: anp.Money{Amount: 8500, Currency: "USD"},
		TranscriptHead: mustHash(tb, n.Accept), TranscriptLen: 4,
		AgreedAt: n.Accept.TS, CreatedAt: n.Accept.TS + 2000,
	}
}

// Leaves of the fixture transparency log around the artifact.
const (
	fixtureLeavesBefore = 5
	fixtureLeavesAfter  = 1
)

func fillerLeaf(i int) []byte { return []byte(fmt.Sprintf("clinch-anp test leaf %d", i)) }

// artifactFixture is a fully notarised artifact with everything used to build it.
type artifactFixture struct {
	Negotiation negotiation
	Chain       []anp.KeyEntry
	Tree        *testTree
	Leaf        []byte
	Artifact    *anp.Artifact
	RootKey     string
}

// buildArtifact builds the fixture artifact with the fixture registry keys.
func buildArtifact(tb testing.TB) *artifactFixture {
	tb.Helper()
	return buildArtifactWith(tb, rootKey, notaryKey, nextKey)
}

// buildArtifactWith builds a valid triple-signed artifact: buyer and seller
// sign, the registry key chain0 countersigns at created_at+1s, the artifact is
// leaf 5 of a 7-leaf RFC 9162 tree whose head chain0 signs.
func buildArtifactWith(tb testing.TB, root, chain0, chain1 ed25519.PrivateKey) *artifactFixture {
	tb.Helper()
	n := buildNegotiation(tb)
	a := &anp.Artifact{Terms: dealTerms(tb, n)}
	if err := a.SignAsBuyer(buyerKey); err != nil {
		tb.Fatalf("sign as buyer: %v", err)
	}
	sig, err := a.SellerSignature(sellerKey)
	if err != nil {
		tb.Fatalf("seller signature: %v", err)
	}
	a.SellerSig = sig
	chain := buildKeyChain(tb, root, chain0, chain1)
	tree, leaf := notarizeAt(tb, a, chain, pub(root), a.Terms.CreatedAt+1000, chain0, 0)
	return &artifactFixture{Negotiation: n, Chain: chain, Tree: tree, Leaf: leaf, Artifact: a, RootKey: pub(root)}
}

// notarizeAt countersigns a (signed by both parties) at ms with the chain
// key key (index kid of chain), logs it as leaf fixtureLeavesBefore of a
// tree of fixtureLeavesBefore+1+fixtureLeavesAfter leaves, and sets a
// receipt whose tree head key signs at ms. It returns the tree and the leaf.
func notarizeAt(tb testing.TB, a *anp.Artifact, chain []anp.KeyEntry, rootHex string, ms int64, key ed25519.PrivateKey, kid uint64) (*testTree, []byte) {
	tb.Helper()
	if err := a.Countersign(key, chain[kid], time.UnixMilli(ms)); err != nil {
		tb.Fatalf("countersign: %v", err)
	}
	leaf, err := a.LeafData()
	if err != nil {
		tb.Fatalf("leaf data: %v", err)
	}
	tree := newTestTree()
	for i := 0; i < fixtureLeavesBefore; i++ {
		tree.append(fillerLeaf(i))
	}
	idx := tree.append(leaf)
	for i := 0; i < fixtureLeavesAfter; i++ {
		tree.append(fillerLeaf(fixtureLeavesBefore + 1 + i))
	}
	th := anp.SignedTreeHead{Size: tree.size(), RootHash: hex.EncodeToString(tree.rootAt(tree.size())), Timestamp: ms, KeyIndex: kid}
	if err := anp.SignTreeHead(&th, anp.Signer(key)); err != nil {
		tb.Fatalf("sign tree head: %v", err)
	}
	a.Receipt = &anp.Receipt{
		LeafIndex: idx, TreeHead: th, Inclusion: hexHashes(tree.inclusion(tb, idx, tree.size())),
		KeyChain: chain, RootKey: rootHex,
	}
	return tree, leaf
}

// cloneArtifact returns a deep copy of a through its JSON form.
func cloneArtifact(tb testing.TB, a *anp.Artifact) *anp.Artifact {
	tb.Helper()
	var c anp.Artifact
	if err := anp.DecodeStrict(mustJSON(tb, a), &c); err != nil {
		tb.Fatalf("clone artifact: %v", err)
	}
	return &c
}

func hexHashes(in [][]byte) []string {
	out := make([]string, len(in))
	for i, h := range in {
		out[i] = hex.EncodeToString(h)
	}
	return out
}

// wantCode fails the test unless err carries code and mentions every fragment.
func wantCode(tb testing.TB, err error, code anp.Code, fragments ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %s %q", code, fragments)
	}
	if got := anp.CodeOf(err); got != code {
		tb.Fatalf("error %q has code %q, want %q", err, got, code)
	}
	wantMessage(tb, err, fragments...)
}

// wantMessage fails the test unless err mentions every fragment.
func wantMessage(tb testing.TB, err error, fragments ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want one mentioning %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			tb.Fatalf("error %q does not mention %q", err, f)
		}
	}
}
