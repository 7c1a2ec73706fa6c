package anp_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// An independent RFC 9162 implementation (§2.1.1, §2.1.3.2, §2.1.4.2),
// written from the RFC, to check merkle.json without the log package.

func rfcLeaf(d []byte) []byte { h := sha256.Sum256(append([]byte{0}, d...)); return h[:] }

func rfcNode(l, r []byte) []byte {
	h := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return h[:]
}

// rfcRoot is MTH(D[n]): the largest power of two k < n splits the leaves.
func rfcRoot(leaves [][]byte) []byte {
	if len(leaves) == 1 {
		return rfcLeaf(leaves[0])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return rfcNode(rfcRoot(leaves[:k]), rfcRoot(leaves[k:]))
}

func rfcVerifyInclusion(index, size uint64, leafHash []byte, path [][]byte, root []byte) bool {
	if index >= size {
		return false
	}
	fn, sn, r := index, size-1, leafHash
	for _, p := range path {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = rfcNode(p, r)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			r = rfcNode(r, p)
		}
		fn, sn = fn>>1, sn>>1
	}
	return sn == 0 && bytes.Equal(r, root)
}

func rfcVerifyConsistency(first, second uint64, path [][]byte, firstRoot, secondRoot []byte) bool {
	switch {
	case first == 0 || first > second:
		return false
	case first == second:
		return len(path) == 0 && bytes.Equal(firstRoot, secondRoot)
	case len(path) == 0:
		return false
	}
	if first&(first-1) == 0 {
		path = append([][]byte{firstRoot}, path...)
	}
	fn, sn := first-1, second-1
	for fn&1 == 1 {
		fn, sn = fn>>1, sn>>1
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			fr, sr = rfcNode(c, fr), rfcNode(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			sr = rfcNode(sr, c)
		}
		fn, sn = fn>>1, sn>>1
	}
	return bytes.Equal(fr, firstRoot) && bytes.Equal(sr, secondRoot) && sn == 0
}

var lowerHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// rfcHashes decodes a proof; ok is false for anything but 64 lower-case hex.
func rfcHashes(in []string) (out [][]byte, ok bool) {
	for _, s := range in {
		if !lowerHash.MatchString(s) {
			return nil, false
		}
		b, _ := hex.DecodeString(s)
		out = append(out, b)
	}
	return out, true
}

func TestMerkleVectors(t *testing.T) {
	var f merkleFile
	readVector(t, "merkle.json", &f)
	var data [][]byte
	for i, l := range f.Leaves {
		d := mustHex(t, "hex", l.DataHex)
		if hex.EncodeToString(rfcLeaf(d)) != l.LeafHash || hex.EncodeToString(anp.LeafHash(d)) != l.LeafHash {
			t.Errorf("leaf %d: leaf hash %s", i, l.LeafHash)
		}
		data = append(data, d)
	}
	if len(f.Roots) != merkleMaxSize {
		t.Fatalf("%d roots, want %d", len(f.Roots), merkleMaxSize)
	}
	for _, r := range f.Roots {
		if got := hex.EncodeToString(rfcRoot(data[:r.Size])); got != r.RootHash || r.Expect != "valid" {
			t.Errorf("size %d: root %s, file %s (%s)", r.Size, got, r.RootHash, r.Expect)
		}
	}
	seen := map[string]int{}
	for _, c := range f.Inclusion {
		seen["inclusion "+c.Expect]++
		d := mustHex(t, "hex", c.DataHex)
		p, ok := rfcHashes(c.Proof)
		ok = ok && rfcVerifyInclusion(c.LeafIndex, c.TreeSize, rfcLeaf(d), p, mustHex(t, "hex", c.RootHash))
		if ok != (c.Expect == "valid") {
			t.Errorf("inclusion %q: RFC 9162 verifier says %v, file expects %s", c.Description, ok, c.Expect)
		}
		err := anp.VerifyInclusion(d, c.LeafIndex, &anp.SignedTreeHead{Size: c.TreeSize, RootHash: c.RootHash}, c.Proof)
		if got := errClass(err, proofClasses); got != c.Expect {
			t.Errorf("inclusion %q: anp.VerifyInclusion = %v (%s), file expects %s", c.Description, err, got, c.Expect)
		}
		if err != nil && anp.CodeOf(err) != anp.CodeBadSignature {
			t.Errorf("inclusion %q: code %s", c.Description, anp.CodeOf(err))
		}
	}
	for _, c := range f.Consistency {
		seen["consistency "+c.Expect]++
		p, ok := rfcHashes(c.Proof)
		ok = ok && rfcVerifyConsistency(c.First, c.Second, p, mustHex(t, "hex", c.FirstRoot), mustHex(t, "hex", c.SecondRoot))
		if ok != (c.Expect == "valid") {
			t.Errorf("consistency %q: RFC 9162 verifier says %v, file expects %s", c.Description, ok, c.Expect)
		}
		err := anp.VerifyConsistency(&anp.SignedTreeHead{Size: c.First, RootHash: c.FirstRoot}, &anp.SignedTreeHead{Size: c.Second, RootHash: c.SecondRoot}, c.Proof)
		if got := errClass(err, proofClasses); got != c.Expect {
			t.Errorf("consistency %q: anp.VerifyConsistency = %v (%s), file expects %s", c.Description, err, got, c.Expect)
		}
	}
	// Every pair 1 <= m <= n <= 17 has a valid consistency proof, and every
	// failure class appears.
	if want := merkleMaxSize * (merkleMaxSize + 1) / 2; seen["consistency valid"] != want {
		t.Errorf("%d valid consistency cases, want %d", seen["consistency valid"], want)
	}
	for name := range proofClasses {
		if seen["inclusion "+name] == 0 {
			t.Errorf("no inclusion case expects %s", name)
		}
	}
}

func TestAddressVectors(t *testing.T) {
	var f struct {
		Description string            `json:"description"`
		ExpectNames map[string]string `json:"expect_names"`
		Cases       []addressCase     `json:"cases"`
	}
	readVector(t, "addresses.json", &f)
	seen := map[string]bool{}
	for _, c := range f.Cases {
		seen[c.Expect] = true
		a, err := anp.ParseAddress(c.Input)
		if got := errClass(err, addressClasses); got != c.Expect {
			t.Errorf("%s: ParseAddress(%q) = %v (%s), file expects %s", c.Description, c.Input, err, got, c.Expect)
			continue
		}
		if err == nil && (string(a.Mode) != c.Mode || a.Domain != c.Domain || a.String() != c.Canonical) {
			t.Errorf("%s: ParseAddress(%q) = %+v, file has %s %s %s", c.Description, c.Input, a, c.Mode, c.Domain, c.Canonical)
		}
		if err == nil && anp.ValidateDomain(c.Domain) != nil {
			t.Errorf("%s: folded domain %q does not validate", c.Description, c.Domain)
		}
	}
	for name := range addressClasses {
		if !seen[name] {
			t.Errorf("no case expects %s", name)
		}
	}
}
