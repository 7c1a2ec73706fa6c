package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/gowebpki/jcs"
)

// readVector reads a vector file strictly, as wire JSON is read.
func readVector(t *testing.T, name string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatalf("%v (run go test ./core/anp -run TestVectors -update)", err)
	}
	if err := anp.DecodeStrict(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return data
}

// readDataVector reads a vector file that is a table rather than wire data
// (money.json writes null for an ISO 4217 minor unit of "N.A."), so the
// protocol's refusal of null does not apply to it; duplicate and unknown
// keys are still refused.
func readDataVector(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatalf("%v (run go test ./core/anp -run TestVectors -update)", err)
	}
	if err := anp.CheckNoDuplicateKeys(data); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// checkSigVector checks a vector from its own fields only, the way another
// implementation would: JCS of the input, the prefix, Ed25519, SHA-256.
func checkSigVector(t *testing.T, where string, v sigVector) {
	t.Helper()
	c, err := jcs.Transform(v.Input)
	if err != nil {
		t.Fatalf("%s: input: %v", where, err)
	}
	msg := append([]byte("clinch-anp/1\x00"+string(v.Purpose)+"\x00"), c...)
	if got := hex.EncodeToString(msg); got != v.SigningInputHex {
		t.Fatalf("%s: signing input\n got  %s\n file %s", where, got, v.SigningInputHex)
	}
	pk, err := hex.DecodeString(v.PublicKey)
	if err != nil || len(pk) != ed25519.PublicKeySize {
		t.Fatalf("%s: public key %q", where, v.PublicKey)
	}
	sig, err := hex.DecodeString(v.Signature)
	if err != nil {
		t.Fatalf("%s: signature %q", where, v.Signature)
	}
	if err := independentVerify(pk, msg, sig); err != nil {
		t.Fatalf("%s: signature: %v", where, err)
	}
	if v.Hash != "" {
		s, err := jcs.Transform(v.Signed)
		if err != nil {
			t.Fatalf("%s: signed: %v", where, err)
		}
		if sum := sha256.Sum256(s); hex.EncodeToString(sum[:]) != v.Hash {
			t.Fatalf("%s: hash %x, file %s", where, sum, v.Hash)
		}
	}
}

// findSigVectors returns every object in a vector file that has a
// signing_input_hex, wherever it is nested.
func findSigVectors(t *testing.T, data []byte) map[string]sigVector {
	t.Helper()
	out := map[string]sigVector{}
	walk(decodeGeneric(t, data), nil, func(p jsonPath, v any) {
		m, ok := v.(map[string]any)
		if !ok || m["signing_input_hex"] == nil {
			return
		}
		var sv sigVector
		if err := anp.DecodeStrict(mustJSON(t, m), &sv); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[p.String()] = sv
	})
	return out
}

func TestVectorFilesVerifyOnTheirOwn(t *testing.T) {
	entries, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(vectorDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for where, v := range findSigVectors(t, data) {
			checkSigVector(t, e.Name()+" "+where, v)
			n++
		}
	}
	if n < 30 {
		t.Fatalf("only %d signature vectors found", n)
	}
	t.Logf("%d signature vectors verified", n)
}

func TestKeyVectors(t *testing.T) {
	var f struct {
		Description string      `json:"description"`
		Keys        []keyVector `json:"keys"`
	}
	readVector(t, "keys.json", &f)
	for i, k := range f.Keys {
		seed, err := hex.DecodeString(k.Seed)
		if err != nil || len(seed) != ed25519.SeedSize {
			t.Fatalf("%s: seed %q", k.Name, k.Seed)
		}
		for j := range seed {
			if seed[j] != seed[0]+byte(j) {
				t.Fatalf("%s: seed is not consecutive bytes", k.Name)
			}
		}
		if got := pub(ed25519.NewKeyFromSeed(seed)); got != k.PublicKey {
			t.Fatalf("key %d %s: public key %s, file %s", i, k.Name, got, k.PublicKey)
		}
	}
}

func TestEnvelopeVectors(t *testing.T) {
	for _, m := range anp.MsgTypes {
		name := "envelope_" + strings.ToLower(string(m)) + ".json"
		var v sigVector
		readVector(t, name, &v)
		e, err := anp.DecodeEnvelope(v.Signed)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e.Type != m || e.From != v.PublicKey {
			t.Fatalf("%s: type %s from %s", name, e.Type, e.From)
		}
		if err := e.VerifySignature(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h := mustHash(t, e); h != v.Hash {
			t.Fatalf("%s: hash %s, file %s", name, h, v.Hash)
		}
		if anp.BuyerMayAsk(m) && !anp.SellerMayAnswer(m) && e.From != pub(buyerKey) || anp.SellerMayAnswer(m) && !anp.BuyerMayAsk(m) && e.From != pub(sellerKey) {
			t.Fatalf("%s: signed by the wrong side", name)
		}
		var body any
		switch m {
		case anp.TypePropose:
			body = &anp.ProposeBody{}
		case anp.TypeCounter, anp.TypeAccept:
			body = &anp.OfferBody{}
		case anp.TypeCommit:
			body = &anp.CommitBody{}
		case anp.TypeConfirm:
			body = &anp.ConfirmBody{}
		default:
			body = &anp.NoteBody{}
		}
		if err := e.DecodeBody(body); err != nil {
			t.Fatalf("%s: body: %v", name, err)
		}
		if c, ok := body.(*anp.CommitBody); ok {
			if err := c.Artifact.VerifyBuyer(); err != nil {
				t.Fatalf("%s: committed artifact: %v", name, err)
			}
		}
	}
}

func TestTranscriptVector(t *testing.T) {
	var v transcriptVector
	readVector(t, "transcript.json", &v)
	var envs []*anp.Envelope
	for i, raw := range v.Envelopes {
		e, err := anp.DecodeEnvelope(raw)
		if err != nil {
			t.Fatalf("envelope %d: %v", i+1, err)
		}
		if h := mustHash(t, e); h != v.Hashes[i] {
			t.Fatalf("envelope %d: hash %s, file %s", i+1, h, v.Hashes[i])
		}
		envs = append(envs, e)
	}
	head, err := anp.VerifyChain(envs)
	if err != nil || head != v.Head || len(envs) != 3 {
		t.Fatalf("VerifyChain = %s, %v; file head %s", head, err, v.Head)
	}
}

func TestArtifactVector(t *testing.T) {
	var v artifactVector
	readVector(t, "artifact.json", &v)
	var a anp.Artifact
	if err := anp.DecodeStrict(v.Artifact, &a); err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyArtifact(&a, anp.VerifyOptions{RootKey: v.RootKey}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, anp.VerifyArtifact(&a, anp.VerifyOptions{RootKey: pub(strangerKey)}), anp.CodeBadSignature, "not the pinned key")

	var envs []*anp.Envelope
	for _, raw := range v.Transcript {
		e, err := anp.DecodeEnvelope(raw)
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	head, err := anp.VerifyChain(envs)
	if err != nil || head != a.Terms.TranscriptHead || head != v.TranscriptHead || uint64(len(envs)) != a.Terms.TranscriptLen {
		t.Fatalf("transcript head %s (%v), artifact %s, file %s", head, err, a.Terms.TranscriptHead, v.TranscriptHead)
	}
	last := envs[len(envs)-1]
	var accepted anp.OfferBody
	if err := last.DecodeBody(&accepted); err != nil || last.Type != anp.TypeAccept || accepted.Price != a.Terms.Price || last.TS != a.Terms.AgreedAt {
		t.Fatalf("the head is not the seller's ACCEPT at the artifact price: %+v %v", accepted, err)
	}

	// The log: rebuild the tree from the leaves.
	tree := newTestTree()
	for _, l := range v.Log.Leaves {
		tree.append([]byte(l))
	}
	leaf, err := a.LeafData()
	if err != nil || !bytes.Equal(leaf, []byte(v.Log.Leaves[v.Log.LeafIndex])) {
		t.Fatalf("leaf %d is not the artifact's leaf data", v.Log.LeafIndex)
	}
	if hex.EncodeToString(anp.LeafHash(leaf)) != v.Log.LeafHash ||
		hex.EncodeToString(tree.rootAt(tree.size())) != v.Log.RootHash || v.Log.RootHash != a.Receipt.TreeHead.RootHash || tree.size() != v.Log.TreeSize {
		t.Fatal("log vector does not match the rebuilt tree")
	}
	// The signature vectors are over exactly the artifact's parts.
	for name, pair := range map[string][2]any{
		"buyer":     {v.Buyer.Input, &a.Terms},
		"seller":    {v.Seller.Input, sellerInput{a.Terms, a.BuyerSig}},
		"registry":  {v.Registry.Input, notaryInput{a.Terms, a.BuyerSig, a.SellerSig, a.Registry.KeyIndex, a.Registry.Key, a.Registry.NotarizedAt}},
		"tree head": {v.TreeHead.Input, func() any { h := a.Receipt.TreeHead; h.Sig = ""; return h }()},
	} {
		c, err := jcs.Transform(pair[0].(json.RawMessage))
		if err != nil || !bytes.Equal(c, mustCanonical(t, pair[1])) {
			t.Fatalf("%s vector input is not the artifact's %s part", name, name)
		}
	}
	if v.Buyer.Signature != a.BuyerSig || v.Seller.Signature != a.SellerSig || v.Registry.Signature != a.Registry.Sig || v.TreeHead.Signature != a.Receipt.TreeHead.Sig {
		t.Fatal("vector signatures differ from the artifact's")
	}
}

func TestPoWVector(t *testing.T) {
	var v powVector
	readVector(t, "pow.json", &v)
	in, err := hex.DecodeString(v.HashInputHex)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("clinch-anp/1\x00auth/pow\x00%s\x00%s\x00%d", v.Challenge.Nonce, v.Challenge.PubKey, v.Solution)
	if string(in) != want {
		t.Fatalf("hash input %q, want %q", in, want)
	}
	h := anp.PoWHash(v.Challenge.Nonce, v.Challenge.PubKey, v.Solution)
	if sha256.Sum256(in) != h || hex.EncodeToString(h[:]) != v.Hash || anp.LeadingZeroBits(h) != v.LeadingZeroBits {
		t.Fatalf("PoW hash %x", h)
	}
	if !anp.CheckPoW(v.Challenge.Nonce, v.Challenge.PubKey, v.Solution, v.Challenge.Difficulty) {
		t.Fatal("solution does not meet the difficulty")
	}
	p := anp.PossessionProof{ChallengeID: v.Challenge.ID, Nonce: v.Challenge.Nonce, PubKey: v.Challenge.PubKey, Solution: v.Solution}
	if err := anp.Verify(v.Challenge.PubKey, anp.PurposePoW, p, v.Possession.Signature); err != nil {
		t.Fatal(err)
	}
}

func TestTokenVector(t *testing.T) {
	var v tokenVector
	readVector(t, "token.json", &v)
	keyFor := func(kid uint64) (string, bool) { return v.RegistryKey, kid == v.Claims.KeyIndex }
	c, err := anp.ParseToken(v.Token, time.UnixMilli(v.Claims.Iat), keyFor)
	if err != nil || *c != v.Claims {
		t.Fatalf("ParseToken = %+v, %v", c, err)
	}
	if _, sig, _ := strings.Cut(v.Token, "."); sig != v.Signing.Signature {
		t.Fatal("token signature differs from the signing vector")
	}
	wantCode(t, func() error { _, err := anp.ParseToken(v.Token, time.UnixMilli(v.Claims.Exp), keyFor); return err }(), anp.CodeUnauthorized, "expired")
}

func TestRecordVectors(t *testing.T) {
	var v struct {
		Description    string    `json:"description"`
		BindRequest    sigVector `json:"bind_request"`
		DomainBinding  sigVector `json:"domain_binding"`
		EndpointRecord sigVector `json:"endpoint_record"`
		WSAuth         sigVector `json:"ws_auth"`
	}
	readVector(t, "records.json", &v)
	var bind anp.BindRequest
	var binding anp.DomainBinding
	var rec anp.SignedRecord
	var ws anp.WSAuth
	for _, d := range []struct {
		raw json.RawMessage
		v   any
	}{{v.BindRequest.Signed, &bind}, {v.DomainBinding.Signed, &binding}, {v.EndpointRecord.Signed, &rec}, {v.WSAuth.Signed, &ws}} {
		if err := anp.DecodeStrict(d.raw, d.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := bind.Verify(); err != nil {
		t.Fatal(err)
	}
	chain := buildKeyChain(t, rootKey, notaryKey, nextKey) // entry 0 is the binding's key, valid at bound_at
	if chain[0].Key != v.DomainBinding.PublicKey {
		t.Fatalf("the binding vector's key %s is not chain key 0", v.DomainBinding.PublicKey)
	}
	if err := binding.Verify(chain); err != nil {
		t.Fatal(err)
	}
	if err := rec.Verify(binding.Key); err != nil {
		t.Fatal(err)
	}
	if err := (&anp.Listing{Binding: binding, Record: rec}).Verify(chain); err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyWSAuth(&ws); err != nil {
		t.Fatal(err)
	}
}
