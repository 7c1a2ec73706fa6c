package anp_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/transparency-dev/merkle/rfc6962"
)

func TestLeafHash(t *testing.T) {
	data := []byte("leaf")
	want := anp.HashBytes(append([]byte{0}, data...))
	if got := hex.EncodeToString(anp.LeafHash(data)); got != want {
		t.Fatalf("LeafHash = %s, want SHA-256(0x00 || data) = %s", got, want)
	}
}

// The RFC 9162 root of two leaves is SHA-256(0x01 || leaf(a) || leaf(b)).
func TestTreeShape(t *testing.T) {
	tree := newTestTree()
	tree.append([]byte("a"))
	tree.append([]byte("b"))
	node := append([]byte{1}, anp.LeafHash([]byte("a"))...)
	node = append(node, anp.LeafHash([]byte("b"))...)
	if got, want := hex.EncodeToString(tree.rootAt(2)), anp.HashBytes(node); got != want {
		t.Fatalf("root = %s, want %s", got, want)
	}
	if got := hex.EncodeToString(tree.rootAt(0)); got != anp.HashBytes(nil) {
		t.Fatalf("empty root = %s", got)
	}
}

func TestSignAndVerifyTreeHead(t *testing.T) {
	chain := buildKeyChain(t, rootKey, notaryKey, nextKey)
	tree := newTestTree()
	for i := 0; i < 3; i++ {
		tree.append(fillerLeaf(i))
	}
	h := signedHead(t, tree, 3, t0Ms, notaryKey, 0)
	if err := anp.VerifyTreeHead(&h, chain); err != nil {
		t.Fatal(err)
	}
	unsigned := h
	unsigned.Sig = ""
	if err := anp.Verify(pub(notaryKey), anp.PurposeTreeHead, unsigned, h.Sig); err != nil {
		t.Fatalf("tree head signature is not over the head without sig: %v", err)
	}
	if err := anp.SignTreeHead(&h, func(anp.Purpose, any) (string, error) { return "", fmt.Errorf("hsm offline") }); err == nil {
		t.Fatal("SignTreeHead ignored the signer's error")
	}

	tests := []struct {
		name string
		edit func(h *anp.SignedTreeHead)
		msg  string
	}{
		{"size changed", func(h *anp.SignedTreeHead) { h.Size = 4 }, "tree head of size 4:"},
		{"root changed", func(h *anp.SignedTreeHead) { h.RootHash = anp.HashBytes(nil) }, "tree head of size 3:"},
		{"timestamp changed", func(h *anp.SignedTreeHead) { h.Timestamp++ }, "signature does not verify"},
		{"other key index", func(h *anp.SignedTreeHead) { h.KeyIndex = 1 }, "tree head of size 3 is dated 2025-01-01T00:00:00Z, outside registry key 1's validity [2025-01-01T00:55:00Z, 2025-01-02T01:00:00Z)"},
		{"unknown key index", func(h *anp.SignedTreeHead) { h.KeyIndex = 2 }, "registry key 2 is not in the key chain"},
		{"outside validity", func(h *anp.SignedTreeHead) { *h = signedHead(t, tree, 3, chain[0].ValidUntil, notaryKey, 0) }, "tree head of size 3 is dated 2025-01-01T01:00:00Z, outside registry key 0's validity"},
		{"upper-case root", func(h *anp.SignedTreeHead) { h.RootHash = "AB" + h.RootHash[2:] }, "tree head root hash is malformed"},
		{"no signature", func(h *anp.SignedTreeHead) { h.Sig = "" }, "signature must be 128 hex characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := signedHead(t, tree, 3, t0Ms, notaryKey, 0)
			tt.edit(&c)
			err := anp.VerifyTreeHead(&c, chain)
			wantCode(t, err, anp.CodeBadSignature, tt.msg)
			if window := strings.Contains(tt.msg, "validity"); errors.Is(err, anp.ErrKeyWindow) != window {
				t.Fatalf("errors.Is(%v, ErrKeyWindow) = %v, want %v", err, !window, window)
			}
		})
	}
}

// Inclusion and consistency proofs for every size up to 33, built with
// compact ranges, verify; tampered ones do not.
func TestProofsAllSizes(t *testing.T) {
	const n = 33
	tree := newTestTree()
	for i := 0; i < n; i++ {
		tree.append(fillerLeaf(i))
	}
	head := func(size uint64) *anp.SignedTreeHead {
		return &anp.SignedTreeHead{Size: size, RootHash: hex.EncodeToString(tree.rootAt(size))}
	}
	checked := 0
	for size := uint64(1); size <= n; size++ {
		for idx := uint64(0); idx < size; idx++ {
			p := hexHashes(tree.inclusion(t, idx, size))
			if err := anp.VerifyInclusion(fillerLeaf(int(idx)), idx, head(size), p); err != nil {
				t.Fatalf("inclusion %d/%d: %v", idx, size, err)
			}
			checked++
			if err := anp.VerifyInclusion(fillerLeaf(int(idx)+1), idx, head(size), p); err == nil {
				t.Fatalf("inclusion %d/%d accepted other data", idx, size)
			}
			if size > 1 {
				other := (idx + 1) % size
				if err := anp.VerifyInclusion(fillerLeaf(int(idx)), other, head(size), p); err == nil {
					t.Fatalf("inclusion %d/%d accepted index %d", idx, size, other)
				}
			}
		}
		for size1 := uint64(1); size1 <= size; size1++ {
			p := hexHashes(tree.consistency(t, size1, size))
			if err := anp.VerifyConsistency(head(size1), head(size), p); err != nil {
				t.Fatalf("consistency %d->%d: %v", size1, size, err)
			}
			checked++
			if size1 < size {
				if err := anp.VerifyConsistency(head(size), head(size1), p); err == nil {
					t.Fatalf("consistency %d->%d accepted reversed", size1, size)
				}
				if len(p) > 0 {
					bad := append([]string(nil), p...)
					bad[len(bad)-1] = anp.HashBytes([]byte("forged"))
					wantCode(t, anp.VerifyConsistency(head(size1), head(size), bad), anp.CodeBadSignature,
						fmt.Sprintf("log of size %d is not an extension of size %d", size, size1))
				}
			}
		}
	}
	t.Logf("%d proofs verified", checked)
}

// A log that was rewritten (same size, one leaf changed) is not an extension
// of the old one.
func TestConsistencyDetectsRewrite(t *testing.T) {
	honest, rewritten := newTestTree(), newTestTree()
	for i := 0; i < 10; i++ {
		honest.append(fillerLeaf(i))
		if i == 3 {
			rewritten.append([]byte("rewritten history"))
		} else {
			rewritten.append(fillerLeaf(i))
		}
	}
	old := &anp.SignedTreeHead{Size: 6, RootHash: hex.EncodeToString(honest.rootAt(6))}
	forked := &anp.SignedTreeHead{Size: 10, RootHash: hex.EncodeToString(rewritten.rootAt(10))}
	wantCode(t, anp.VerifyConsistency(old, forked, hexHashes(rewritten.consistency(t, 6, 10))), anp.CodeBadSignature, "is not an extension of size 6")
	newer := &anp.SignedTreeHead{Size: 10, RootHash: hex.EncodeToString(honest.rootAt(10))}
	if err := anp.VerifyConsistency(old, newer, hexHashes(honest.consistency(t, 6, 10))); err != nil {
		t.Fatal(err)
	}
	wantCode(t, anp.VerifyConsistency(&anp.SignedTreeHead{Size: 6, RootHash: "zz"}, newer, nil), anp.CodeBadSignature, "root hash is malformed")
	wantCode(t, anp.VerifyConsistency(old, newer, []string{"00"}), anp.CodeBadSignature, "consistency proof: anp: hash 0")
}

func TestVerifyInclusionInputs(t *testing.T) {
	tree := newTestTree()
	tree.append([]byte("only"))
	h := &anp.SignedTreeHead{Size: 1, RootHash: hex.EncodeToString(tree.rootAt(1))}
	if err := anp.VerifyInclusion([]byte("only"), 0, h, nil); err != nil {
		t.Fatalf("single-leaf tree: %v", err)
	}
	if hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf([]byte("only"))) != h.RootHash {
		t.Fatal("single-leaf root is not the leaf hash")
	}
	wantCode(t, anp.VerifyInclusion([]byte("only"), 1, h, nil), anp.CodeBadSignature, "leaf index 1 is outside the tree of size 1")
	wantCode(t, anp.VerifyInclusion([]byte("only"), 0, &anp.SignedTreeHead{Size: 0, RootHash: h.RootHash}, nil), anp.CodeBadSignature, "outside the tree of size 0")
	wantCode(t, anp.VerifyInclusion([]byte("only"), 0, &anp.SignedTreeHead{Size: 1, RootHash: "x"}, nil), anp.CodeBadSignature, "tree head root hash")
}

func TestCheckHeadFresh(t *testing.T) {
	now := time.UnixMilli(t0Ms)
	for _, tc := range []struct {
		name string
		ts   time.Time
		ok   bool
	}{
		{"now", now, true},
		{"skew behind", now.Add(-anp.MaxClockSkew), true},
		{"skew ahead", now.Add(anp.MaxClockSkew), true},
		{"a millisecond too old", now.Add(-anp.MaxClockSkew - time.Millisecond), false},
		{"a millisecond too far ahead", now.Add(anp.MaxClockSkew + time.Millisecond), false},
		{"a day old", now.Add(-24 * time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &anp.SignedTreeHead{Size: 7, Timestamp: tc.ts.UnixMilli()}
			err := anp.CheckHeadFresh(h, now)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, anp.ErrHeadNotFresh) || anp.CodeOf(err) != anp.CodeBadSignature || !strings.Contains(err.Error(), "tree head of size 7 is dated") {
				t.Fatalf("err = %v, want ErrHeadNotFresh with code bad_signature", err)
			}
		})
	}
}

func TestCheckHeadOrder(t *testing.T) {
	head := func(size uint64, ts int64) *anp.SignedTreeHead { return &anp.SignedTreeHead{Size: size, Timestamp: ts} }
	for _, tc := range []struct {
		name string
		a, b *anp.SignedTreeHead
		ok   bool
	}{
		{"larger and later", head(3, 10), head(5, 20), true},
		{"larger at the same time", head(3, 10), head(5, 10), true},
		{"same size, any time", head(5, 20), head(5, 10), true},
		{"larger but earlier", head(3, 20), head(5, 10), false},
		{"smaller but later", head(5, 10), head(3, 20), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := anp.CheckHeadOrder(tc.a, tc.b)
			if tc.ok != (err == nil) || (!tc.ok && (!errors.Is(err, anp.ErrHeadTimeBackwards) || anp.CodeOf(err) != anp.CodeBadSignature)) {
				t.Fatalf("CheckHeadOrder = %v, want ok=%v (else ErrHeadTimeBackwards)", err, tc.ok)
			}
		})
	}
}
