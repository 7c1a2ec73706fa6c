package anp_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestVerifyArtifactAcceptsTheFixture(t *testing.T) {
	fx := buildArtifact(t)
	if err := anp.VerifyArtifact(fx.Artifact, anp.VerifyOptions{RootKey: fx.RootKey}); err != nil {
		t.Fatalf("pinned root: %v", err)
	}
	if err := anp.VerifyArtifact(fx.Artifact, anp.VerifyOptions{}); err != nil {
		t.Fatalf("unpinned: %v", err)
	}
	// Through JSON, as it is stored and sent.
	var decoded anp.Artifact
	if err := anp.DecodeStrict(mustJSON(t, fx.Artifact), &decoded); err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyArtifact(&decoded, anp.VerifyOptions{RootKey: fx.RootKey}); err != nil {
		t.Fatalf("decoded: %v", err)
	}
	// The transcript head in the terms is the head of the verified transcript.
	head, err := anp.VerifyChain(fx.Negotiation.envelopes())
	if err != nil || head != fx.Artifact.Terms.TranscriptHead {
		t.Fatalf("transcript head %s, terms say %s (%v)", head, fx.Artifact.Terms.TranscriptHead, err)
	}
}

func TestArtifactSigningSteps(t *testing.T) {
	n := buildNegotiation(t)
	a := &anp.Artifact{Terms: dealTerms(t, n)}

	wantCode(t, a.SignAsBuyer(sellerKey), anp.CodeBadRequest, "signing key is not the buyer key of the deal")
	if a.BuyerSig != "" {
		t.Fatal("refused SignAsBuyer set a signature")
	}
	wantCode(t, a.VerifyBuyer(), anp.CodeBadSignature, "artifact buyer signature")
	if err := a.SignAsBuyer(buyerKey); err != nil {
		t.Fatal(err)
	}
	if err := a.VerifyBuyer(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SellerSignature(buyerKey); err == nil {
		t.Fatal("SellerSignature signed with the buyer key")
	} else {
		wantCode(t, err, anp.CodeBadRequest, "signing key is not the seller key of the deal")
	}
	wantCode(t, a.VerifySeller(), anp.CodeBadSignature, "artifact seller signature")
	sig, err := a.SellerSignature(sellerKey)
	if err != nil {
		t.Fatal(err)
	}
	a.SellerSig = sig
	if err := a.VerifySeller(); err != nil {
		t.Fatal(err)
	}
	// The seller signature covers the buyer signature: a new buyer signature
	// over the same terms is not what the seller signed.
	c := *a
	c.BuyerSig, _ = anp.Sign(buyerKey, anp.PurposeArtifactBuyer, map[string]string{"other": "value"})
	wantCode(t, c.VerifySeller(), anp.CodeBadSignature, "artifact seller signature")

	if _, err := a.LeafData(); err == nil {
		t.Fatal("LeafData without a countersignature")
	}
	wantCode(t, anp.VerifyArtifact(a, anp.VerifyOptions{}), anp.CodeBadSignature, "no registry countersignature and log receipt")

	chain := buildKeyChain(t, rootKey, notaryKey, nextKey)
	if err := a.Countersign(nextKey, chain[0], t0); err == nil {
		t.Fatal("Countersign with a key that is not the chain entry's")
	} else {
		wantMessage(t, err, "key does not match key chain entry 0")
	}
	if err := a.Countersign(notaryKey, chain[0], time.UnixMilli(a.Terms.CreatedAt)); err != nil {
		t.Fatal(err)
	}
	if a.Registry.KeyIndex != 0 || a.Registry.Key != pub(notaryKey) || a.Registry.NotarizedAt != a.Terms.CreatedAt {
		t.Fatalf("countersignature %+v", a.Registry)
	}
	leaf, err := a.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	// The leaf is the artifact without its receipt.
	withReceipt := *a
	withReceipt.Receipt = &anp.Receipt{LeafIndex: 9}
	leaf2, _ := withReceipt.LeafData()
	if string(leaf) != string(leaf2) || string(leaf) != string(mustCanonical(t, a)) {
		t.Fatal("leaf data depends on the receipt")
	}
}

func TestSignAsBuyerValidatesTerms(t *testing.T) {
	n := buildNegotiation(t)
	tests := []struct {
		name string
		edit func(d *anp.DealTerms)
		msg  string
	}{
		{"version", func(d *anp.DealTerms) { d.V = 2 }, "artifact version 2 is not supported"},
		{"session id", func(d *anp.DealTerms) { d.SessionID = "s" }, "session_id is not a 32-character hex id"},
		{"mode", func(d *anp.DealTerms) { d.Mode = "X" }, `mode "X" is not valid`},
		{"transcript head", func(d *anp.DealTerms) { d.TranscriptHead = "" }, "transcript_head is not a 64-character hex hash"},
		{"transcript too short", func(d *anp.DealTerms) { d.TranscriptLen = 1 }, "transcript_len 1 is too short for a deal"},
		{"agreed at zero", func(d *anp.DealTerms) { d.AgreedAt = 0 }, "created_at must not precede agreed_at"},
		{"created before agreed", func(d *anp.DealTerms) { d.CreatedAt = d.AgreedAt - 1 }, "created_at must not precede agreed_at"},
		{"quantity", func(d *anp.DealTerms) { d.Quantity = anp.MaxQuantity + 1 }, "quantity 1000001 out of range"},
		{"seller domain", func(d *anp.DealTerms) { d.SellerDomain = "Kitchen.anp" }, "seller_domain: domain"},
		{"seller key", func(d *anp.DealTerms) { d.SellerKey = sellerDomain }, "seller_key: anp: public key"},
		{"buyer key", func(d *anp.DealTerms) { d.BuyerKey = "" }, "buyer_key: anp: public key"},
		{"item", func(d *anp.DealTerms) { d.Item = "" }, "item is required"},
		{"terms", func(d *anp.DealTerms) { d.Terms = map[string]string{"k": "\x00"} }, "terms[k] contains a control character"},
		{"price", func(d *anp.DealTerms) { d.Price.Amount = 0 }, "price: amount must be greater than zero"},
		{"price currency", func(d *anp.DealTerms) { d.Price.Currency = "XYZ" }, "price: currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &anp.Artifact{Terms: dealTerms(t, n)}
			tt.edit(&a.Terms)
			wantCode(t, a.SignAsBuyer(buyerKey), anp.CodeBadRequest, "artifact: "+tt.msg)
			if a.BuyerSig != "" {
				t.Fatal("signature set on invalid terms")
			}
			wantCode(t, a.VerifyBuyer(), anp.CodeBadRequest, tt.msg)
		})
	}
}

func TestVerifyArtifactRefusals(t *testing.T) {
	fx := buildArtifact(t)
	pinned := anp.VerifyOptions{RootKey: fx.RootKey}
	tests := []struct {
		name string
		edit func(t *testing.T, a *anp.Artifact)
		opt  anp.VerifyOptions
		code anp.Code
		msg  string
	}{
		{"no seller signature", func(t *testing.T, a *anp.Artifact) { a.SellerSig = "" }, pinned, anp.CodeBadSignature, "artifact has no seller signature"},
		{"no receipt", func(t *testing.T, a *anp.Artifact) { a.Receipt = nil }, pinned, anp.CodeBadSignature, "no registry countersignature and log receipt"},
		{"no countersignature", func(t *testing.T, a *anp.Artifact) { a.Registry = nil }, pinned, anp.CodeBadSignature, "no registry countersignature and log receipt"},
		{"pinned root differs", func(t *testing.T, a *anp.Artifact) {}, anp.VerifyOptions{RootKey: pub(strangerKey)}, anp.CodeBadSignature, "registry root key " + fx.RootKey[:12] + " is not the pinned key " + pub(strangerKey)[:12]},
		{"countersigned with an unknown key index", func(t *testing.T, a *anp.Artifact) { a.Registry.KeyIndex = 7 }, pinned, anp.CodeBadSignature, "registry key 7 is not in the key chain (2 entries)"},
		{"countersigned by a key that is not in the chain", func(t *testing.T, a *anp.Artifact) {
			e := fx.Chain[0]
			e.Key = pub(strangerKey)
			if err := a.Countersign(strangerKey, e, time.UnixMilli(a.Registry.NotarizedAt)); err != nil {
				t.Fatal(err)
			}
		}, pinned, anp.CodeBadSignature, "registry countersignature key is not key 0 of the registry key chain"},
		{"countersigned by a key not yet valid", func(t *testing.T, a *anp.Artifact) {
			if err := a.Countersign(nextKey, fx.Chain[1], time.UnixMilli(a.Registry.NotarizedAt)); err != nil {
				t.Fatal(err)
			}
		}, pinned, anp.CodeBadSignature, "outside registry key 1's validity"},
		{"countersigned after the key expired", func(t *testing.T, a *anp.Artifact) {
			if err := a.Countersign(notaryKey, fx.Chain[0], t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}, pinned, anp.CodeBadSignature, "outside registry key 0's validity"},
		{"notarised before it was created", func(t *testing.T, a *anp.Artifact) {
			if err := a.Countersign(notaryKey, fx.Chain[0], time.UnixMilli(a.Terms.CreatedAt-1)); err != nil {
				t.Fatal(err)
			}
		}, pinned, anp.CodeBadRequest, "artifact was notarised before it was created"},
		{"countersignature over other seller signature", func(t *testing.T, a *anp.Artifact) { a.Registry.Sig = fx.Artifact.SellerSig }, pinned, anp.CodeBadSignature, "registry countersignature:"},
		{"tree head by a key not in the chain", func(t *testing.T, a *anp.Artifact) {
			if err := anp.SignTreeHead(&a.Receipt.TreeHead, anp.Signer(strangerKey)); err != nil {
				t.Fatal(err)
			}
		}, pinned, anp.CodeBadSignature, "tree head of size 7:"},
		{"tree head signed by the root key itself", func(t *testing.T, a *anp.Artifact) {
			if err := anp.SignTreeHead(&a.Receipt.TreeHead, anp.Signer(rootKey)); err != nil {
				t.Fatal(err)
			}
		}, pinned, anp.CodeBadSignature, "tree head of size 7"},
		{"artifact not in the tree", func(t *testing.T, a *anp.Artifact) {
			// A correctly signed head of the tree before the artifact was added.
			a.Receipt.TreeHead = signedHead(t, fx.Tree, fixtureLeavesBefore, a.Receipt.TreeHead.Timestamp, notaryKey, 0)
			a.Receipt.LeafIndex = fixtureLeavesBefore - 1
			a.Receipt.Inclusion = hexHashes(fx.Tree.inclusion(t, fixtureLeavesBefore-1, fixtureLeavesBefore))
		}, pinned, anp.CodeBadSignature, "log inclusion proof for leaf 4 in tree of size 5 does not verify"},
		{"inclusion with the wrong index", func(t *testing.T, a *anp.Artifact) { a.Receipt.LeafIndex = 4 }, pinned, anp.CodeBadSignature, "log inclusion proof for leaf 4 in tree of size 7 does not verify"},
		{"index outside the tree", func(t *testing.T, a *anp.Artifact) { a.Receipt.LeafIndex = 7 }, pinned, anp.CodeBadSignature, "leaf index 7 is outside the tree of size 7"},
		{"proof of another leaf", func(t *testing.T, a *anp.Artifact) {
			a.Receipt.Inclusion = hexHashes(fx.Tree.inclusion(t, 4, 7))
		}, pinned, anp.CodeBadSignature, "does not verify"},
		{"proof too short", func(t *testing.T, a *anp.Artifact) { a.Receipt.Inclusion = a.Receipt.Inclusion[1:] }, pinned, anp.CodeBadSignature, "log inclusion proof"},
		{"proof too long", func(t *testing.T, a *anp.Artifact) {
			a.Receipt.Inclusion = append(a.Receipt.Inclusion, a.Receipt.Inclusion[0])
		}, pinned, anp.CodeBadSignature, "log inclusion proof"},
		{"malformed proof hash", func(t *testing.T, a *anp.Artifact) { a.Receipt.Inclusion[0] = "00" }, pinned, anp.CodeBadSignature, "inclusion proof: anp: hash 0 must be 64 hex characters"},
		{"absurd proof length", func(t *testing.T, a *anp.Artifact) {
			a.Receipt.Inclusion = make([]string, 65)
		}, pinned, anp.CodeBadSignature, "65 hashes is longer than any valid proof"},
		{"malformed root hash", func(t *testing.T, a *anp.Artifact) { a.Receipt.TreeHead.RootHash = "ab" }, pinned, anp.CodeBadSignature, "tree head root hash is malformed"},
		{"empty key chain", func(t *testing.T, a *anp.Artifact) { a.Receipt.KeyChain = nil }, anp.VerifyOptions{}, anp.CodeBadSignature, "registry key chain is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := cloneArtifact(t, fx.Artifact)
			tt.edit(t, a)
			wantCode(t, anp.VerifyArtifact(a, tt.opt), tt.code, tt.msg)
		})
	}
	wantCode(t, anp.VerifyArtifact(nil, pinned), anp.CodeBadRequest, "artifact is empty")
}

// An artifact that is internally consistent under another registry's root
// verifies only when nothing is pinned.
func TestVerifyArtifactPinnedRoot(t *testing.T) {
	rogue := buildArtifactWith(t, strangerKey, notaryKey, nextKey)
	if err := anp.VerifyArtifact(rogue.Artifact, anp.VerifyOptions{}); err != nil {
		t.Fatalf("rogue artifact is not even self-consistent: %v", err)
	}
	wantCode(t, anp.VerifyArtifact(rogue.Artifact, anp.VerifyOptions{RootKey: pub(rootKey)}), anp.CodeBadSignature, "is not the pinned key")
	// Swapping the receipt's root key for the pinned one breaks the chain.
	a := cloneArtifact(t, rogue.Artifact)
	a.Receipt.RootKey = pub(rootKey)
	wantCode(t, anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: pub(rootKey)}), anp.CodeBadSignature, "registry key chain entry 0:")
}

// signedHead returns a tree head of tree at size signed by key (chain index kid).
func signedHead(t *testing.T, tree *testTree, size uint64, ts int64, key ed25519.PrivateKey, kid uint64) anp.SignedTreeHead {
	t.Helper()
	h := anp.SignedTreeHead{Size: size, RootHash: hexHashes([][]byte{tree.rootAt(size)})[0], Timestamp: ts, KeyIndex: kid}
	if err := anp.SignTreeHead(&h, anp.Signer(key)); err != nil {
		t.Fatal(err)
	}
	return h
}
