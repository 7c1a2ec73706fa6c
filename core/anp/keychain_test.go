package anp_test

import (
	"crypto/ed25519"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestNewKeyEntry(t *testing.T) {
	chain := buildKeyChain(t, rootKey, notaryKey, nextKey)
	e0, e1 := chain[0], chain[1]
	if e0.Index != 0 || e0.Prev != "" || e0.Key != pub(notaryKey) || e0.ValidFrom != t0.Add(-24*time.Hour).UnixMilli() || e0.ValidUntil != t0.Add(time.Hour).UnixMilli() {
		t.Fatalf("entry 0 = %+v", e0)
	}
	h0, err := e0.Hash()
	if err != nil {
		t.Fatal(err)
	}
	if e1.Index != 1 || e1.Prev != h0 || e1.Key != pub(nextKey) {
		t.Fatalf("entry 1 = %+v, want prev %s", e1, h0)
	}
	unsigned := e1
	unsigned.Sig = ""
	if err := anp.Verify(pub(rootKey), anp.PurposeKeyChain, unsigned, e1.Sig); err != nil {
		t.Fatalf("entry is not the root's signature over the entry without sig: %v", err)
	}
	if want, _ := anp.Hash(e0); h0 != want {
		t.Fatalf("entry hash %s is not the hash of the signed entry %s", h0, want)
	}
	if err := anp.VerifyKeyChain(pub(rootKey), chain); err != nil {
		t.Fatal(err)
	}
	k, err := anp.ChainKey(chain, 1)
	if err != nil || k.Key != pub(nextKey) {
		t.Fatalf("ChainKey(1) = %+v, %v", k, err)
	}
	_, err = anp.ChainKey(chain, 2)
	wantCode(t, err, anp.CodeBadSignature, "registry key 2 is not in the key chain (2 entries)")
}

func TestKeyEntryValidAt(t *testing.T) {
	e := anp.KeyEntry{ValidFrom: 100, ValidUntil: 200}
	for ms, want := range map[int64]bool{99: false, 100: true, 150: true, 199: true, 200: false, -1: false} {
		if got := e.ValidAt(ms); got != want {
			t.Errorf("ValidAt(%d) = %v, want %v", ms, got, want)
		}
	}
}

func TestVerifyKeyChainTamper(t *testing.T) {
	root := pub(rootKey)
	good := buildKeyChain(t, rootKey, notaryKey, nextKey)
	three := func() []anp.KeyEntry {
		c := buildKeyChain(t, rootKey, notaryKey, nextKey)
		e2, err := anp.NewKeyEntry(rootKey, &c[1], strangerKey.Public().(ed25519.PublicKey), t0.Add(24*time.Hour), t0.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return append(c, e2)
	}
	tests := []struct {
		name string
		root string
		edit func(c []anp.KeyEntry) []anp.KeyEntry
		msg  string
	}{
		{"empty", root, func(c []anp.KeyEntry) []anp.KeyEntry { return nil }, "registry key chain is empty"},
		{"reordered", root, func(c []anp.KeyEntry) []anp.KeyEntry { return []anp.KeyEntry{c[1], c[0]} }, "entry 0 has index 1"},
		{"first dropped", root, func(c []anp.KeyEntry) []anp.KeyEntry { return c[1:] }, "entry 0 has index 1"},
		{"middle dropped", root, func(c []anp.KeyEntry) []anp.KeyEntry { c3 := three(); return []anp.KeyEntry{c3[0], c3[2]} }, "entry 1 has index 2"},
		{"dropped and renumbered", root, func(c []anp.KeyEntry) []anp.KeyEntry {
			c3 := three()
			c3[2].Index = 1
			return []anp.KeyEntry{c3[0], c3[2]}
		}, "entry 1 does not link to entry 0"},
		{"validity extended", root, func(c []anp.KeyEntry) []anp.KeyEntry { c[0].ValidUntil += 1; return c }, "registry key chain entry 0:"},
		{"validity moved earlier", root, func(c []anp.KeyEntry) []anp.KeyEntry { c[1].ValidFrom -= 3600_000; return c }, "registry key chain entry 1:"},
		{"key swapped", root, func(c []anp.KeyEntry) []anp.KeyEntry { c[1].Key = pub(strangerKey); return c }, "entry 1:"},
		{"prev changed", root, func(c []anp.KeyEntry) []anp.KeyEntry { c[1].Prev = anp.HashBytes(nil); return c }, "entry 1 does not link to entry 0"},
		{"first entry with a prev", root, func(c []anp.KeyEntry) []anp.KeyEntry { c[0].Prev = anp.HashBytes(nil); return c }, "entry 0 does not link to entry -1"},
		{"entry re-signed by another root", root, func(c []anp.KeyEntry) []anp.KeyEntry {
			e, _ := anp.NewKeyEntry(strangerKey, &c[0], strangerKey.Public().(ed25519.PublicKey), t0, t0.Add(time.Hour))
			return []anp.KeyEntry{c[0], e}
		}, "entry 1:"},
		{"whole chain under another root", pub(strangerKey), func(c []anp.KeyEntry) []anp.KeyEntry { return c }, "entry 0:"},
		{"malformed root", "root", func(c []anp.KeyEntry) []anp.KeyEntry { return c }, "entry 0: anp: public key must be 64 hex characters"},
		{"empty window", root, func(c []anp.KeyEntry) []anp.KeyEntry {
			e, _ := anp.NewKeyEntry(rootKey, nil, notaryKey.Public().(ed25519.PublicKey), t0, t0)
			return []anp.KeyEntry{e}
		}, "registry key chain entry 0 has an empty validity window"},
		{"earlier entry changed after the next was signed", root, func(c []anp.KeyEntry) []anp.KeyEntry {
			e, _ := anp.NewKeyEntry(rootKey, nil, strangerKey.Public().(ed25519.PublicKey), t0.Add(-time.Hour), t0.Add(time.Hour))
			return []anp.KeyEntry{e, c[1]}
		}, "entry 1 does not link to entry 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := append([]anp.KeyEntry(nil), good...)
			wantCode(t, anp.VerifyKeyChain(tt.root, tt.edit(c)), anp.CodeBadSignature, tt.msg)
		})
	}
	if err := anp.VerifyKeyChain(root, three()); err != nil {
		t.Fatalf("three-entry chain: %v", err)
	}
}

// FuzzDatedStatements checks the date rules of registry statements against
// a direct reading of the spec: a binding and a tree head verify exactly
// when their key was valid at their date, a current head is fresh exactly
// within the clock skew, and two heads are in order exactly when the
// larger is not dated before the smaller (whichever is given first).
func FuzzDatedStatements(f *testing.F) {
	chain := buildKeyChain(f, rootKey, notaryKey, nextKey)
	f.Add(t0Ms, t0Ms, uint64(3), t0Ms, uint64(5), t0Ms+1, false)
	f.Add(chain[0].ValidUntil, t0Ms-anp.MaxClockSkew.Milliseconds()-1, uint64(5), t0Ms, uint64(3), t0Ms+1, true)
	f.Add(chain[1].ValidFrom-1, int64(0), uint64(0), int64(-1), uint64(1<<63), int64(1)<<62, true)
	f.Fuzz(func(t *testing.T, at, now int64, sizeA uint64, tsA int64, sizeB uint64, tsB int64, second bool) {
		key, kid := notaryKey, uint64(0)
		if second {
			key, kid = nextKey, 1
		}
		inWindow := at >= chain[kid].ValidFrom && at < chain[kid].ValidUntil
		d := anp.DomainBinding{Domain: sellerDomain, Key: pub(sellerKey), BoundAt: at, KeyIndex: kid}
		if err := anp.SignDomainBinding(&d, anp.Signer(key)); err != nil {
			t.Fatal(err)
		}
		if err := d.Verify(chain); (err == nil) != inWindow || (err != nil && !errors.Is(err, anp.ErrKeyWindow)) {
			t.Fatalf("binding at %d by key %d: %v, in window %v", at, kid, err, inWindow)
		}
		h := anp.SignedTreeHead{Size: sizeA, RootHash: anp.HashBytes(nil), Timestamp: at, KeyIndex: kid}
		if err := anp.SignTreeHead(&h, anp.Signer(key)); err != nil {
			t.Fatal(err)
		}
		if err := anp.VerifyTreeHead(&h, chain); (err == nil) != inWindow || (err != nil && !errors.Is(err, anp.ErrKeyWindow)) {
			t.Fatalf("head at %d by key %d: %v, in window %v", at, kid, err, inWindow)
		}
		skew := new(big.Int).SetInt64(anp.MaxClockSkew.Milliseconds())
		apart := new(big.Int).Sub(big.NewInt(at), big.NewInt(now))
		fresh := apart.Abs(apart).Cmp(skew) <= 0
		if err := anp.CheckHeadFresh(&h, time.UnixMilli(now)); (err == nil) != fresh || (err != nil && !errors.Is(err, anp.ErrHeadNotFresh)) {
			t.Fatalf("head at %d, now %d: %v, fresh %v", at, now, err, fresh)
		}
		a, b := &anp.SignedTreeHead{Size: sizeA, Timestamp: tsA}, &anp.SignedTreeHead{Size: sizeB, Timestamp: tsB}
		backwards := (sizeA < sizeB && tsB < tsA) || (sizeB < sizeA && tsA < tsB)
		for _, pair := range [][2]*anp.SignedTreeHead{{a, b}, {b, a}} {
			if err := anp.CheckHeadOrder(pair[0], pair[1]); (err != nil) != backwards || (err != nil && !errors.Is(err, anp.ErrHeadTimeBackwards)) {
				t.Fatalf("heads %+v %+v: %v, backwards %v", pair[0], pair[1], err, backwards)
			}
		}
	})
}
