package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

var update = flag.Bool("update", false, "rewrite the test vectors under testdata/anp")

// vectorDir holds the protocol test vectors, shared with other implementations.
const vectorDir = "../../testdata/anp"

// sigVector is one signature test vector: the value signed (input), the
// exact signed bytes, the signature and, where the protocol defines one, the
// hash of the signed object.
type sigVector struct {
	Description     string          `json:"description"`
	Purpose         anp.Purpose     `json:"purpose"`
	PublicKey       string          `json:"public_key"`
	Input           json.RawMessage `json:"input"`
	SigningInputHex string          `json:"signing_input_hex"`
	Signature       string          `json:"signature"`
	Hash            string          `json:"hash,omitempty"`
	Signed          json.RawMessage `json:"signed,omitempty"`
	Expect          string          `json:"expect"` // "valid": signature verifies over signing_input_hex
}

// newSigVector signs input with key from first principles (Ed25519 over the
// signing input) and checks that the protocol object carries the same
// signature; signed and its hash are included when signed is not nil.
func newSigVector(tb testing.TB, desc string, p anp.Purpose, key ed25519.PrivateKey, input any, objectSig string, signed any, withHash bool) sigVector {
	tb.Helper()
	msg, err := anp.SigningInput(p, input)
	if err != nil {
		tb.Fatal(err)
	}
	sig := hex.EncodeToString(ed25519.Sign(key, msg))
	if objectSig != sig {
		tb.Fatalf("%s: the object's signature %s is not Ed25519 over the signing input (%s)", desc, objectSig, sig)
	}
	v := sigVector{
		Description: desc, Purpose: p, PublicKey: pub(key), Input: mustCanonical(tb, input),
		SigningInputHex: hex.EncodeToString(msg), Signature: sig, Expect: "valid",
	}
	if signed != nil {
		v.Signed = mustCanonical(tb, signed)
		if withHash {
			h, err := anp.Hash(signed)
			if err != nil {
				tb.Fatal(err)
			}
			v.Hash = h
		}
	}
	return v
}

// unsignedEnvelope is e without its signature: what the sender signs.
func unsignedEnvelope(e *anp.Envelope) *anp.Envelope {
	c := cloneEnvelope(e)
	c.Sig = ""
	return c
}

func envelopeVector(tb testing.TB, desc string, key ed25519.PrivateKey, e *anp.Envelope) sigVector {
	tb.Helper()
	return newSigVector(tb, desc, anp.PurposeEnvelope, key, unsignedEnvelope(e), e.Sig, e, true)
}

// protocolEnvelopes returns one fixture envelope of every message type, with
// the key that signed it.
func protocolEnvelopes(tb testing.TB) map[anp.MsgType]struct {
	Key  ed25519.PrivateKey
	Env  *anp.Envelope
	Desc string
} {
	tb.Helper()
	n := buildNegotiation(tb)
	h1, h2, h3, h4 := mustHash(tb, n.Propose), mustHash(tb, n.SellerCounter), mustHash(tb, n.BuyerCounter), mustHash(tb, n.Accept)
	buyerSigned := &anp.Artifact{Terms: dealTerms(tb, n)}
	if err := buyerSigned.SignAsBuyer(buyerKey); err != nil {
		tb.Fatal(err)
	}
	commit := signEnvelope(tb, buyerKey, envelopeFields{Type: anp.TypeCommit, Seq: 5, Prev: h4, To: sellerDomain, TS: t0Ms + 6000, Nonce: fixedNonce(0x05),
		Body: &anp.CommitBody{Artifact: buyerSigned}})
	sellerSig, err := buyerSigned.SellerSignature(sellerKey)
	if err != nil {
		tb.Fatal(err)
	}
	type entry = struct {
		Key  ed25519.PrivateKey
		Env  *anp.Envelope
		Desc string
	}
	return map[anp.MsgType]entry{
		anp.TypePropose: {buyerKey, n.Propose, "PROPOSE, seq 1, buyer session key to the seller domain, with an opening offer"},
		anp.TypeCounter: {buyerKey, n.BuyerCounter, "COUNTER, seq 3, buyer to seller, turn 2"},
		anp.TypeAccept:  {sellerKey, n.Accept, "ACCEPT, seq 4, seller to buyer session key, turn 2"},
		anp.TypeReject: {sellerKey, signEnvelope(tb, sellerKey, envelopeFields{Type: anp.TypeReject, Seq: 4, Prev: h3, To: pub(buyerKey), TS: t0Ms + 4000, Nonce: fixedNonce(0x14),
			Body: &anp.NoteBody{Reason: "below_floor", Message: "We cannot go below 90.00 USD."}}), "REJECT, seq 4, seller ends the negotiation"},
		anp.TypeCancel: {buyerKey, signEnvelope(tb, buyerKey, envelopeFields{Type: anp.TypeCancel, Seq: 3, Prev: h2, To: sellerDomain, TS: t0Ms + 3000, Nonce: fixedNonce(0x13),
			Body: &anp.NoteBody{Reason: "buyer_cancelled"}}), "CANCEL, seq 3, buyer withdraws"},
		anp.TypeCommit: {buyerKey, commit, "COMMIT, seq 5, buyer sends the buyer-signed artifact"},
		anp.TypeConfirm: {sellerKey, signEnvelope(tb, sellerKey, envelopeFields{Type: anp.TypeConfirm, Seq: 6, Prev: mustHash(tb, commit), To: pub(buyerKey), TS: t0Ms + 7000, Nonce: fixedNonce(0x06),
			Body: &anp.ConfirmBody{SellerSig: sellerSig}}), "CONFIRM, seq 6, seller returns its artifact signature"},
		anp.TypeInform: {sellerKey, signEnvelope(tb, sellerKey, envelopeFields{Type: anp.TypeInform, Seq: 2, Prev: h1, To: pub(buyerKey), TS: t0Ms + 2000, Nonce: fixedNonce(0x12),
			Body: &anp.NoteBody{Reason: "answer_follows", Message: "Checking stock, an offer follows."}}), "INFORM, seq 2, seller information without a state change"},
		anp.TypeQuery: {buyerKey, signEnvelope(tb, buyerKey, envelopeFields{Type: anp.TypeQuery, Seq: 3, Prev: h2, To: sellerDomain, TS: t0Ms + 3000, Nonce: fixedNonce(0x33),
			Body: &anp.NoteBody{Message: "Is the lid included?"}}), "QUERY, seq 3, buyer question"},
		anp.TypeEscalate: {sellerKey, signEnvelope(tb, sellerKey, envelopeFields{Type: anp.TypeEscalate, Seq: 4, Prev: h3, To: pub(buyerKey), TS: t0Ms + 4000, Nonce: fixedNonce(0x24),
			Body: &anp.NoteBody{Reason: "human_review", Message: "A person will review this offer."}}), "ESCALATE, seq 4, seller asks for human review"},
	}
}

type keyVector struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	Seed      string `json:"seed"`
	PublicKey string `json:"public_key"`
	Expect    string `json:"expect"` // "valid": public_key is the RFC 8032 key of seed
}

type transcriptVector struct {
	Description string            `json:"description"`
	Expect      string            `json:"expect"` // "valid": the chain verifies to head
	Envelopes   []json.RawMessage `json:"envelopes"`
	Hashes      []string          `json:"hashes"`
	Head        string            `json:"head"`
}

type logVector struct {
	Leaves    []string `json:"leaves"` // leaf data as text; leaf_index holds the artifact leaf (JCS without receipt)
	LeafIndex uint64   `json:"leaf_index"`
	LeafHash  string   `json:"leaf_hash"`
	TreeSize  uint64   `json:"tree_size"`
	RootHash  string   `json:"root_hash"`
}

type artifactVector struct {
	Description    string            `json:"description"`
	Expect         string            `json:"expect"` // "valid": the artifact verifies with root_key pinned
	RootKey        string            `json:"root_key"`
	Transcript     []json.RawMessage `json:"transcript"`
	TranscriptHead string            `json:"transcript_head"`
	Buyer          sigVector         `json:"buyer"`
	Seller         sigVector         `json:"seller"`
	Registry       sigVector         `json:"registry"`
	KeyChain       []sigVector       `json:"key_chain"`
	TreeHead       sigVector         `json:"tree_head"`
	Log            logVector         `json:"log"`
	Artifact       json.RawMessage   `json:"artifact"`
}

type powVector struct {
	Description     string        `json:"description"`
	Expect          string        `json:"expect"` // "valid": the solution meets the difficulty
	Challenge       anp.Challenge `json:"challenge"`
	HashInputHex    string        `json:"hash_input_hex"`
	Solution        uint64        `json:"solution"`
	Hash            string        `json:"hash"`
	LeadingZeroBits int           `json:"leading_zero_bits"`
	Possession      sigVector     `json:"possession"`
}

type tokenVector struct {
	Description string          `json:"description"`
	Expect      string          `json:"expect"` // "valid": the token parses and verifies
	RegistryKey string          `json:"registry_key"`
	Claims      anp.TokenClaims `json:"claims"`
	Token       string          `json:"token"`
	Signing     sigVector       `json:"signing"`
}

// notaryInput mirrors what the registry signs over an artifact; JCS sorts
// the keys, so any struct with these JSON names gives the same bytes.
type notaryInput struct {
	Terms       anp.DealTerms `json:"deal"`
	BuyerSig    string        `json:"buyer_sig"`
	SellerSig   string        `json:"seller_sig"`
	KeyIndex    uint64        `json:"key_index"`
	Key         string        `json:"key"`
	NotarizedAt int64         `json:"notarized_at"`
}

type sellerInput struct {
	Terms    anp.DealTerms `json:"deal"`
	BuyerSig string        `json:"buyer_sig"`
}

func encodeVector(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return append(b, '\n')
}

// vectorFiles builds every vector file from the fixtures.
func vectorFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}

	// Keys.
	type keysFile struct {
		Description string      `json:"description"`
		Keys        []keyVector `json:"keys"`
	}
	kf := keysFile{Description: "Ed25519 keys of the vectors. Each seed is 32 consecutive byte values; the public key is RFC 8032 from the seed. All hex is lower case."}
	for _, k := range []struct {
		name, role string
		key        ed25519.PrivateKey
	}{
		{"buyer_session", "buyer's ephemeral per-session key (signs buyer envelopes and the artifact as buyer)", buyerKey},
		{"seller_identity", "seller identity key bound to kitchen-outlet.anp (signs seller envelopes, records and the artifact as seller)", sellerKey},
		{"registry_root", "registry long-term root key (signs key chain entries, enrolment grants and operator revocations)", rootKey},
		{"registry_chain_0", "registry chain key 0 (countersigns, signs tree heads, bindings and tokens)", notaryKey},
		{"registry_chain_1", "registry chain key 1 (the next rotation)", nextKey},
		{"buyer_identity", "buyer's permanent identity key (registry auth: PoW, tokens, WebSocket)", identityKey},
		{"seller_next", "the seller's next identity key, after the rotation of key_events.json", strangerKey},
	} {
		kf.Keys = append(kf.Keys, keyVector{Name: k.name, Role: k.role, Seed: hex.EncodeToString(k.key.Seed()), PublicKey: pub(k.key), Expect: "valid"})
	}
	files["keys.json"] = encodeVector(tb, kf)

	// One envelope of every message type.
	envs := protocolEnvelopes(tb)
	for _, m := range anp.MsgTypes {
		e := envs[m]
		files["envelope_"+strings.ToLower(string(m))+".json"] = encodeVector(tb, envelopeVector(tb, e.Desc, e.Key, e.Env))
	}

	// A three-envelope transcript.
	n := buildNegotiation(tb)
	tv := transcriptVector{Expect: "valid", Description: "The first three envelopes of the fixture session; each prev is the hash of the previous envelope and head is the hash of the last."}
	for _, e := range n.envelopes()[:3] {
		tv.Envelopes = append(tv.Envelopes, mustCanonical(tb, e))
		tv.Hashes = append(tv.Hashes, mustHash(tb, e))
	}
	tv.Head = tv.Hashes[2]
	files["transcript.json"] = encodeVector(tb, tv)

	// The notarised artifact.
	fx := buildArtifact(tb)
	a := fx.Artifact
	av := artifactVector{
		Expect: "valid",
		Description: "A triple-signed artifact of the fixture session: buyer session key, seller identity key, registry chain key 0; " +
			"leaf 5 of a 7-leaf RFC 9162 log. Verify offline with the registry root key pinned.",
		RootKey:        fx.RootKey,
		TranscriptHead: a.Terms.TranscriptHead,
		Buyer:          newSigVector(tb, "buyer signature over the deal terms", anp.PurposeArtifactBuyer, buyerKey, &a.Terms, a.BuyerSig, nil, false),
		Seller:         newSigVector(tb, "seller signature over {deal, buyer_sig}", anp.PurposeArtifactSeller, sellerKey, sellerInput{a.Terms, a.BuyerSig}, a.SellerSig, nil, false),
		Registry: newSigVector(tb, "registry countersignature over {deal, buyer_sig, seller_sig, key_index, key, notarized_at}", anp.PurposeArtifactNotary, notaryKey,
			notaryInput{a.Terms, a.BuyerSig, a.SellerSig, a.Registry.KeyIndex, a.Registry.Key, a.Registry.NotarizedAt}, a.Registry.Sig, nil, false),
		Artifact: mustCanonical(tb, a),
	}
	for _, e := range n.envelopes() {
		av.Transcript = append(av.Transcript, mustCanonical(tb, e))
	}
	for i := range fx.Chain {
		e := fx.Chain[i]
		unsigned := e
		unsigned.Sig = ""
		av.KeyChain = append(av.KeyChain, newSigVector(tb, fmt.Sprintf("key chain entry %d signed by the root key; hash is the next entry's prev", i),
			anp.PurposeKeyChain, rootKey, unsigned, e.Sig, e, true))
	}
	th := a.Receipt.TreeHead
	thUnsigned := th
	thUnsigned.Sig = ""
	av.TreeHead = newSigVector(tb, "signed tree head by registry chain key 0", anp.PurposeTreeHead, notaryKey, thUnsigned, th.Sig, nil, false)
	for i := 0; i < fixtureLeavesBefore; i++ {
		av.Log.Leaves = append(av.Log.Leaves, string(fillerLeaf(i)))
	}
	av.Log.Leaves = append(av.Log.Leaves, string(fx.Leaf))
	for i := 0; i < fixtureLeavesAfter; i++ {
		av.Log.Leaves = append(av.Log.Leaves, string(fillerLeaf(fixtureLeavesBefore+1+i)))
	}
	av.Log.LeafIndex = a.Receipt.LeafIndex
	av.Log.LeafHash = hex.EncodeToString(anp.LeafHash(fx.Leaf))
	av.Log.TreeSize = th.Size
	av.Log.RootHash = th.RootHash
	files["artifact.json"] = encodeVector(tb, av)

	// Proof of work.
	ch := anp.Challenge{ID: "ch-0001", Nonce: powNonce, PubKey: pub(identityKey), Difficulty: 8, Expires: t0Ms + 120_000}
	sol, err := anp.SolvePoW(tb.Context(), &ch, 0)
	if err != nil {
		tb.Fatal(err)
	}
	powHash := anp.PoWHash(ch.Nonce, ch.PubKey, sol)
	proof := anp.PossessionProof{ChallengeID: ch.ID, Nonce: ch.Nonce, PubKey: ch.PubKey, Solution: sol}
	proofSig, _ := anp.Sign(identityKey, anp.PurposePoW, proof)
	files["pow.json"] = encodeVector(tb, powVector{
		Expect: "valid",
		Description: "Registry auth: the smallest solution (searching up from 0) of a difficulty-8 challenge bound to the buyer identity key, " +
			"and the possession proof signed with that key.",
		Challenge:       ch,
		HashInputHex:    hex.EncodeToString([]byte(fmt.Sprintf("clinch-anp/1\x00auth/pow\x00%s\x00%s\x00%d", ch.Nonce, ch.PubKey, sol))),
		Solution:        sol,
		Hash:            hex.EncodeToString(powHash[:]),
		LeadingZeroBits: anp.LeadingZeroBits(powHash),
		Possession:      newSigVector(tb, "possession proof signed by the identity key", anp.PurposePoW, identityKey, proof, proofSig, nil, false),
	})

	// Token.
	claims := tokenClaims()
	tok, err := anp.IssueToken(claims, anp.Signer(notaryKey))
	if err != nil {
		tb.Fatal(err)
	}
	_, tokSig, _ := strings.Cut(tok, ".")
	files["token.json"] = encodeVector(tb, tokenVector{
		Expect:      "valid",
		Description: "Registry access token: base64url (no padding) of JCS(claims), '.', hex signature by the chain key named in kid.",
		RegistryKey: pub(notaryKey), Claims: claims, Token: tok,
		Signing: newSigVector(tb, "token signature over the claims", anp.PurposeToken, notaryKey, claims, tokSig, nil, false),
	})

	// Control plane, data plane and WebSocket auth records.
	bind := anp.BindRequest{Domain: sellerDomain, Key: pub(sellerKey), TS: t0Ms}
	if err := anp.SignBindRequest(&bind, anp.Signer(sellerKey)); err != nil {
		tb.Fatal(err)
	}
	bindUnsigned := bind
	bindUnsigned.Sig = ""
	binding := anp.DomainBinding{Domain: sellerDomain, Key: pub(sellerKey), BoundAt: t0Ms, KeyIndex: 0}
	if err := anp.SignDomainBinding(&binding, anp.Signer(notaryKey)); err != nil {
		tb.Fatal(err)
	}
	bindingUnsigned := binding
	bindingUnsigned.Sig = ""
	rec, err := anp.SignRecord(endpointRecord(), anp.Signer(sellerKey))
	if err != nil {
		tb.Fatal(err)
	}
	ws := anp.WSAuth{PubKey: pub(identityKey), TS: t0Ms, Nonce: fixedNonce(0x5a)}
	if err := anp.SignWSAuth(&ws, anp.Signer(identityKey)); err != nil {
		tb.Fatal(err)
	}
	wsUnsigned := ws
	wsUnsigned.Sig = ""
	files["records.json"] = encodeVector(tb, struct {
		Description    string    `json:"description"`
		BindRequest    sigVector `json:"bind_request"`
		DomainBinding  sigVector `json:"domain_binding"`
		EndpointRecord sigVector `json:"endpoint_record"`
		WSAuth         sigVector `json:"ws_auth"`
	}{
		Description:    "Control plane (bind request, registry domain binding), data plane (seller endpoint record) and WebSocket auth signatures.",
		BindRequest:    newSigVector(tb, "seller's proof of possession for binding its domain", anp.PurposeDomainBinding, sellerKey, bindUnsigned, bind.Sig, bind, false),
		DomainBinding:  newSigVector(tb, "registry chain key 0 binds the domain to the seller key", anp.PurposeDomainBinding, notaryKey, bindingUnsigned, binding.Sig, binding, false),
		EndpointRecord: newSigVector(tb, "seller's self-signed endpoint record; signed is the SignedRecord", anp.PurposeEndpointRecord, sellerKey, rec.Record, rec.Sig, rec, false),
		WSAuth:         newSigVector(tb, "WebSocket AUTH proof by the buyer identity key", anp.PurposeWSAuth, identityKey, wsUnsigned, ws.Sig, ws, false),
	})

	// Domain separation: one value, every purpose.
	value := anp.Money{Amount: 8500, Currency: "USD"}
	var purposes []sigVector
	for _, p := range allPurposes {
		sig, _ := anp.Sign(sellerKey, p, value)
		purposes = append(purposes, newSigVector(tb, "the same value signed for purpose "+string(p), p, sellerKey, value, sig, nil, false))
	}
	files["purposes.json"] = encodeVector(tb, struct {
		Description string      `json:"description"`
		JCS         string      `json:"jcs"`
		Vectors     []sigVector `json:"vectors"`
	}{
		Description: "Domain separation: the signing input is \"clinch-anp/1\" 0x00 purpose 0x00 JCS(value); the same value under each purpose gives different bytes and signatures.",
		JCS:         string(mustCanonical(tb, value)),
		Vectors:     purposes,
	})
	addWireVectors(tb, files)
	files["relay.json"] = encodeVector(tb, buildRelayVector(tb))
	addMoneyVectors(tb, files)
	addRefusedSignatureVectors(tb, files)
	addRejectionVectors(tb, files)
	addLogVectors(tb, files)
	addKeyEventVectors(tb, files)
	addKeyWindowVectors(tb, files)
	addDealEventVectors(tb, files)
	return files
}

func TestVectors(t *testing.T) {
	files := vectorFiles(t)
	if *update {
		if err := os.MkdirAll(vectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(vectorDir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d vector files to %s", len(files), vectorDir)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Errorf("%s: %v (run go test ./core/anp -run TestVectors -update)", name, err)
			continue
		}
		if want := files[name]; !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the code produces at line %d:\n file: %s\n code: %s",
				name, firstDiffLine(got, want), lineAt(got, firstDiffLine(got, want)), lineAt(want, firstDiffLine(got, want)))
		}
	}
	// No stale vector files.
	entries, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok && strings.HasSuffix(e.Name(), ".json") {
			t.Errorf("stale vector file %s", e.Name())
		}
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(la) && i < len(lb); i++ {
		if !bytes.Equal(la[i], lb[i]) {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

func lineAt(b []byte, n int) string {
	lines := bytes.Split(b, []byte("\n"))
	if n-1 < len(lines) {
		return string(lines[n-1])
	}
	return "<end of file>"
}
