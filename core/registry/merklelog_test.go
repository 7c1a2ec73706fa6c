package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// referenceRoot is RFC 9162's MTH written out directly, as an independent
// check of the compact-range implementation.
func referenceRoot(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		s := sha256.Sum256(nil)
		return s[:]
	case 1:
		s := sha256.Sum256(append([]byte{0}, leaves[0]...))
		return s[:]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := referenceRoot(leaves[:k]), referenceRoot(leaves[k:])
	s := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return s[:]
}

func head(size uint64, root []byte) *anp.SignedTreeHead {
	return &anp.SignedTreeHead{Size: size, RootHash: hex.EncodeToString(root)}
}

// newTestMerkleLog opens a tree on an empty in-memory ledger.
func newTestMerkleLog(t testing.TB) *merkleLog {
	t.Helper()
	l, err := openMerkleLog(context.Background(), memstore.NewLedger(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestMerkleLogProofsUpTo70(t *testing.T) {
	const n = 70
	ctx := context.Background()
	l := newTestMerkleLog(t)
	var leaves [][]byte
	for i := 0; i < n; i++ {
		leaf := []byte(fmt.Sprintf("leaf %d", i))
		idx, root, path, err := l.append(ctx, leaf)
		if err != nil || idx != uint64(i) {
			t.Fatalf("append %d: index %d %v", i, idx, err)
		}
		leaves = append(leaves, leaf)
		if want := referenceRoot(leaves); !bytes.Equal(root, want) {
			t.Fatalf("append %d returned another root than the reference", i)
		}
		if err := anp.VerifyInclusion(leaf, idx, head(idx+1, root), hexAll(path)); err != nil {
			t.Fatalf("the inclusion proof append %d returned: %v", i, err)
		}
	}
	if root, _ := l.rootAt(ctx, 0); !bytes.Equal(root, referenceRoot(nil)) {
		t.Fatal("empty root differs from SHA-256 of the empty string")
	}
	roots := make([][]byte, n+1)
	for size := uint64(1); size <= n; size++ {
		root, err := l.rootAt(ctx, size)
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceRoot(leaves[:size]); !bytes.Equal(root, want) {
			t.Fatalf("root of size %d differs from the reference", size)
		}
		roots[size] = root
		for idx := uint64(0); idx < size; idx++ {
			p, err := l.inclusion(ctx, idx, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := anp.VerifyInclusion(leaves[idx], idx, head(size, root), hexAll(p)); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", idx, size, err)
			}
			if idx == 0 && size > 1 {
				if anp.VerifyInclusion(leaves[1], idx, head(size, root), hexAll(p)) == nil {
					t.Fatalf("inclusion proof of %d in %d accepts another leaf", idx, size)
				}
			}
		}
	}
	for s1 := uint64(1); s1 <= n; s1++ {
		for s2 := s1; s2 <= n; s2++ {
			p, err := l.consistency(ctx, s1, s2)
			if err != nil {
				t.Fatal(err)
			}
			if err := anp.VerifyConsistency(head(s1, roots[s1]), head(s2, roots[s2]), hexAll(p)); err != nil {
				t.Fatalf("consistency %d -> %d: %v", s1, s2, err)
			}
			if s1 < s2 && s1 > 1 {
				if anp.VerifyConsistency(head(s1, roots[s1-1]), head(s2, roots[s2]), hexAll(p)) == nil {
					t.Fatalf("consistency %d -> %d accepts a wrong old root", s1, s2)
				}
			}
		}
	}
	if _, err := l.inclusion(ctx, 0, n+1); err == nil {
		t.Fatal("inclusion beyond the log size succeeded")
	}
}

func TestLogEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var leaves [][]byte
	for i := 0; i < 9; i++ {
		leaf := []byte(fmt.Sprintf("entry %d", i))
		if _, _, _, _, err := e.srv.logLeaf(ctx, leaf); err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leaf)
	}
	c := e.client(anptest.NewKey(t))
	h, err := c.LogHead(ctx)
	if err != nil || h.Size != 9 || h.RootHash != hex.EncodeToString(referenceRoot(leaves)) {
		t.Fatalf("LogHead %+v %v", h, err)
	}
	r := e.do(http.MethodGet, anp.RouteInclusion+"?index=4&size=9", nil, nil)
	var pr anp.ProofResponse
	if r.status != http.StatusOK || json.Unmarshal(r.body, &pr) != nil {
		t.Fatalf("inclusion: HTTP %d %s", r.status, r.body)
	}
	if err := anp.VerifyInclusion(leaves[4], 4, h, pr.Proof); err != nil {
		t.Fatalf("inclusion proof from the endpoint: %v", err)
	}
	old := head(5, referenceRoot(leaves[:5]))
	p, err := c.Consistency(ctx, 5, 9)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyConsistency(old, h, p); err != nil {
		t.Fatalf("consistency proof from the endpoint: %v", err)
	}
	for _, q := range []string{anp.RouteInclusion + "?index=9&size=9", anp.RouteInclusion + "?index=1&size=10", anp.RouteInclusion + "?index=1",
		anp.RouteConsistency + "?first=5&second=4", anp.RouteConsistency + "?first=1&second=10", anp.RouteConsistency + "?first=-1&second=2"} {
		if r := e.do(http.MethodGet, q, nil, nil); r.status != http.StatusBadRequest || r.errCode() != anp.CodeBadRequest {
			t.Errorf("%s: HTTP %d %s, want 400", q, r.status, r.body)
		}
	}
}
