package anp_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Vectors for the transparency log (merkle.json) and for addresses
// (addresses.json), every case with its expect: "valid" or the named failure.

type merkleLeaf struct {
	Index    uint64 `json:"index"`
	DataHex  string `json:"data_hex"`
	LeafHash string `json:"leaf_hash"`
}

type merkleRoot struct {
	Size     uint64 `json:"size"`
	RootHash string `json:"root_hash"`
	Expect   string `json:"expect"`
}

type inclusionCase struct {
	Description string   `json:"description"`
	LeafIndex   uint64   `json:"leaf_index"`
	TreeSize    uint64   `json:"tree_size"`
	DataHex     string   `json:"data_hex"`
	Proof       []string `json:"proof"`
	RootHash    string   `json:"root_hash"`
	Expect      string   `json:"expect"`
}

type consistencyCase struct {
	Description string   `json:"description"`
	First       uint64   `json:"first"`
	Second      uint64   `json:"second"`
	FirstRoot   string   `json:"first_root"`
	SecondRoot  string   `json:"second_root"`
	Proof       []string `json:"proof"`
	Expect      string   `json:"expect"`
}

type merkleFile struct {
	Description string            `json:"description"`
	ExpectNames map[string]string `json:"expect_names"`
	LeafPrefix  string            `json:"leaf_prefix"`
	NodePrefix  string            `json:"node_prefix"`
	Leaves      []merkleLeaf      `json:"leaves"`
	Roots       []merkleRoot      `json:"roots"`
	Inclusion   []inclusionCase   `json:"inclusion"`
	Consistency []consistencyCase `json:"consistency"`
}

// proofClasses are the named failures of log proofs, by their expect name.
var proofClasses = map[string]error{
	"proof_hash":    anp.ErrProofHash,
	"leaf_index":    anp.ErrLeafIndex,
	"proof_shape":   anp.ErrProofShape,
	"root_mismatch": anp.ErrRootMismatch,
}

const merkleMaxSize = 17

// merkleLeafData is leaf i of the vector tree: the i bytes 0x00 … i-1
// (leaf 0 is empty).
func merkleLeafData(i int) []byte {
	b := make([]byte, i)
	for j := range b {
		b[j] = byte(j)
	}
	return b
}

// flipHash returns h (hex) with the lowest bit of its last byte flipped.
func flipHash(h string) string {
	b, _ := hex.DecodeString(h)
	b[len(b)-1] ^= 1
	return hex.EncodeToString(b)
}

func buildMerkleFile(tb testing.TB) merkleFile {
	tb.Helper()
	tree := newTestTree()
	f := merkleFile{
		Description: "RFC 9162 Merkle trees of sizes 1 to 17 (protocol §15): leaf hash = SHA-256(0x00 || data), node hash = SHA-256(0x01 || left || right), " +
			"with inclusion proofs for every leaf of trees of sizes 1, 5, 8 and 17, consistency proofs between every pair of sizes 1 <= first <= second <= 17, " +
			"and tampered proofs that a verifier MUST refuse. expect is \"valid\" or the named failure.",
		ExpectNames: map[string]string{"proof_hash": "anp.ErrProofHash", "leaf_index": "anp.ErrLeafIndex", "proof_shape": "anp.ErrProofShape", "root_mismatch": "anp.ErrRootMismatch"},
		LeafPrefix:  "00", NodePrefix: "01",
	}
	for i := 0; i < merkleMaxSize; i++ {
		d := merkleLeafData(i)
		tree.append(d)
		f.Leaves = append(f.Leaves, merkleLeaf{Index: uint64(i), DataHex: hex.EncodeToString(d), LeafHash: hex.EncodeToString(anp.LeafHash(d))})
	}
	root := func(n uint64) string { return hex.EncodeToString(tree.rootAt(n)) }
	for n := uint64(1); n <= merkleMaxSize; n++ {
		f.Roots = append(f.Roots, merkleRoot{Size: n, RootHash: root(n), Expect: "valid"})
	}
	incl := func(desc string, i, n uint64, data []byte, p []string, r, expect string) {
		f.Inclusion = append(f.Inclusion, inclusionCase{Description: desc, LeafIndex: i, TreeSize: n, DataHex: hex.EncodeToString(data), Proof: p, RootHash: r, Expect: expect})
	}
	for _, n := range []uint64{1, 5, 8, 17} {
		for i := uint64(0); i < n; i++ {
			incl(fmt.Sprintf("leaf %d of %d", i, n), i, n, merkleLeafData(int(i)), hexHashes(tree.inclusion(tb, i, n)), root(n), "valid")
		}
	}
	p := hexHashes(tree.inclusion(tb, 5, 17))
	d5 := merkleLeafData(5)
	incl("a proof hash with one bit flipped", 5, 17, d5, append([]string{flipHash(p[0])}, p[1:]...), root(17), "root_mismatch")
	incl("another leaf's data", 5, 17, merkleLeafData(6), p, root(17), "root_mismatch")
	incl("the leaf's hash given as its data", 5, 17, anp.LeafHash(d5), p, root(17), "root_mismatch")
	incl("the proof of leaf 5 for leaf 4", 4, 17, merkleLeafData(4), p, root(17), "root_mismatch")
	incl("two proof hashes swapped", 5, 17, d5, append([]string{p[1], p[0]}, p[2:]...), root(17), "root_mismatch")
	incl("the root of size 16", 5, 17, d5, p, root(16), "root_mismatch")
	incl("the last proof hash dropped", 5, 17, d5, p[:len(p)-1], root(17), "proof_shape")
	incl("an extra proof hash", 5, 17, d5, append(append([]string{}, p...), p[0]), root(17), "proof_shape")
	incl("leaf index equal to the tree size", 17, 17, merkleLeafData(16), hexHashes(tree.inclusion(tb, 16, 17)), root(17), "leaf_index")
	incl("a proof hash in upper case", 5, 17, d5, append([]string{strings.ToUpper(p[0])}, p[1:]...), root(17), "proof_hash")
	incl("a proof hash of 31 bytes", 5, 17, d5, append([]string{p[0][:62]}, p[1:]...), root(17), "proof_hash")
	incl("a tree of size 1 with a non-empty proof", 0, 1, merkleLeafData(0), []string{root(1)}, root(1), "proof_shape")

	cons := func(desc string, m, n uint64, r1, r2 string, p []string, expect string) {
		if p == nil {
			p = []string{}
		}
		f.Consistency = append(f.Consistency, consistencyCase{Description: desc, First: m, Second: n, FirstRoot: r1, SecondRoot: r2, Proof: p, Expect: expect})
	}
	for n := uint64(1); n <= merkleMaxSize; n++ {
		for m := uint64(1); m <= n; m++ {
			cons(fmt.Sprintf("%d to %d", m, n), m, n, root(m), root(n), hexHashes(tree.consistency(tb, m, n)), "valid")
		}
	}
	for _, pair := range [][2]uint64{{1, 2}, {3, 7}, {4, 8}, {6, 17}, {8, 17}, {16, 17}} {
		m, n := pair[0], pair[1]
		p := hexHashes(tree.consistency(tb, m, n))
		at := fmt.Sprintf(" (%d to %d)", m, n)
		cons("a proof hash with one bit flipped"+at, m, n, root(m), root(n), append([]string{flipHash(p[0])}, p[1:]...), "root_mismatch")
		cons("the roots swapped"+at, m, n, root(n), root(m), p, "root_mismatch")
		cons("another first root"+at, m, n, flipHash(root(m)), root(n), p, "root_mismatch")
		cons("another second root"+at, m, n, root(m), flipHash(root(n)), p, "root_mismatch")
		cons("the last proof hash dropped"+at, m, n, root(m), root(n), p[:len(p)-1], "proof_shape")
		cons("an extra proof hash"+at, m, n, root(m), root(n), append(append([]string{}, p...), p[0]), "proof_shape")
		cons("first and second swapped"+at, n, m, root(n), root(m), p, "proof_shape")
	}
	cons("equal sizes with different roots", 9, 9, root(9), flipHash(root(9)), nil, "root_mismatch")
	cons("equal sizes with a non-empty proof", 9, 9, root(9), root(9), []string{root(9)}, "proof_shape")
	cons("an empty proof between different sizes", 3, 7, root(3), root(7), nil, "proof_shape")
	cons("a proof hash in upper case", 3, 7, root(3), root(7), []string{strings.ToUpper(hexHashes(tree.consistency(tb, 3, 7))[0])}, "proof_hash")
	return f
}

// addressCase is one address text and its expected reading.
type addressCase struct {
	Description string `json:"description"`
	Input       string `json:"input"`
	Expect      string `json:"expect"`
	Mode        string `json:"mode,omitempty"`
	Domain      string `json:"domain,omitempty"`
	Canonical   string `json:"canonical,omitempty"`
}

// addressClasses are the named failures of addresses, by expect name.
var addressClasses = map[string]error{
	"address_length":    anp.ErrAddressLength,
	"address_mode":      anp.ErrAddressMode,
	"address_no_domain": anp.ErrAddressNoDomain,
	"domain_empty":      anp.ErrDomainEmpty,
	"domain_length":     anp.ErrDomainLength,
	"domain_labels":     anp.ErrDomainLabels,
	"label_empty":       anp.ErrLabelEmpty,
	"label_length":      anp.ErrLabelLength,
	"label_hyphen":      anp.ErrLabelHyphen,
	"label_character":   anp.ErrLabelCharacter,
	"domain_last_label": anp.ErrDomainLastLabel,
}

func addressCases() []addressCase {
	l63 := strings.Repeat("a", 63)
	d253 := strings.Join([]string{l63, l63, l63, strings.Repeat("b", 57), "anp"}, ".") // 3*63 + 57 + 3 + 4 dots = 253
	d254 := "c" + d253
	in := []addressCase{
		{Description: "the fixture seller", Input: "ANP/C.kitchen-outlet.anp"},
		{Description: "mode A", Input: "ANP/A.shop.anp"},
		{Description: "mode B, four labels", Input: "ANP/B.a.b.c.example"},
		{Description: "ASCII upper case in the domain is folded", Input: "ANP/C.Kitchen-Outlet.ANP"},
		{Description: "numeric labels before the last", Input: "ANP/C.1.2.x9"},
		{Description: "a label of 63 bytes", Input: "ANP/C." + l63 + ".anp"},
		{Description: "a domain of 253 bytes", Input: "ANP/C." + d253},
		{Description: "a punycode label", Input: "ANP/C.xn--bcher-kva.example"},
		{Description: "hyphens inside a label", Input: "ANP/C.a--b.c-d"},
		{Description: "an address of 301 bytes", Input: "ANP/C." + strings.Repeat("a.", 147) + "abc", Expect: "address_length"},
		{Description: "a bare domain", Input: "kitchen-outlet.anp", Expect: "address_mode"},
		{Description: "lower-case prefix", Input: "anp/C.shop.anp", Expect: "address_mode"},
		{Description: "lower-case mode letter", Input: "ANP/c.shop.anp", Expect: "address_mode"},
		{Description: "unknown mode", Input: "ANP/D.shop.anp", Expect: "address_mode"},
		{Description: "empty mode", Input: "ANP/.shop.anp", Expect: "address_mode"},
		{Description: "no domain", Input: "ANP/C", Expect: "address_no_domain"},
		{Description: "empty domain", Input: "ANP/C.", Expect: "domain_empty"},
		{Description: "a domain of 254 bytes", Input: "ANP/C." + d254, Expect: "domain_length"},
		{Description: "one label", Input: "ANP/C.localhost", Expect: "domain_labels"},
		{Description: "one label, folded", Input: "ANP/C.Kitchen", Expect: "domain_labels"},
		{Description: "an empty label", Input: "ANP/C.shop..anp", Expect: "label_empty"},
		{Description: "a trailing dot", Input: "ANP/C.shop.anp.", Expect: "label_empty"},
		{Description: "a leading dot", Input: "ANP/C..shop.anp", Expect: "label_empty"},
		{Description: "a label of 64 bytes", Input: "ANP/C." + l63 + "a.anp", Expect: "label_length"},
		{Description: "a label starting with a hyphen", Input: "ANP/C.-shop.anp", Expect: "label_hyphen"},
		{Description: "a label ending with a hyphen", Input: "ANP/C.shop-.anp", Expect: "label_hyphen"},
		{Description: "an underscore", Input: "ANP/C.shop_1.anp", Expect: "label_character"},
		{Description: "a non-ASCII letter (never folded)", Input: "ANP/C.café.anp", Expect: "label_character"},
		{Description: "non-ASCII upper case is not folded", Input: "ANP/C.SHOP.ÄNP", Expect: "label_character"},
		{Description: "a space", Input: "ANP/C.shop anp.x", Expect: "label_character"},
		{Description: "a port", Input: "ANP/C.shop.anp:8080", Expect: "label_character"},
		{Description: "a NUL byte", Input: "ANP/C.shop\x00.anp", Expect: "label_character"},
		{Description: "an IPv4 literal", Input: "ANP/C.10.0.0.1", Expect: "domain_last_label"},
		{Description: "a numeric last label", Input: "ANP/C.shop.123", Expect: "domain_last_label"},
		{Description: "a last label starting with a digit", Input: "ANP/C.shop.1x", Expect: "domain_last_label"},
	}
	for i := range in {
		c := &in[i]
		if c.Expect != "" {
			continue
		}
		c.Expect = "valid"
		a, err := anp.ParseAddress(c.Input)
		if err != nil {
			panic(fmt.Sprintf("%s: %v", c.Input, err))
		}
		c.Mode, c.Domain, c.Canonical = string(a.Mode), a.Domain, a.String()
	}
	return in
}

// addLogVectors adds merkle.json and addresses.json.
func addLogVectors(tb testing.TB, files map[string][]byte) {
	tb.Helper()
	files["merkle.json"] = encodeVector(tb, buildMerkleFile(tb))
	files["addresses.json"] = encodeVector(tb, struct {
		Description string            `json:"description"`
		ExpectNames map[string]string `json:"expect_names"`
		Cases       []addressCase     `json:"cases"`
	}{
		Description: "Seller addresses (protocol §5): each input with expect \"valid\" (then mode, folded domain and canonical text) or the named failure.",
		ExpectNames: map[string]string{
			"address_length": "anp.ErrAddressLength", "address_mode": "anp.ErrAddressMode", "address_no_domain": "anp.ErrAddressNoDomain",
			"domain_empty": "anp.ErrDomainEmpty", "domain_length": "anp.ErrDomainLength", "domain_labels": "anp.ErrDomainLabels",
			"label_empty": "anp.ErrLabelEmpty", "label_length": "anp.ErrLabelLength", "label_hyphen": "anp.ErrLabelHyphen",
			"label_character": "anp.ErrLabelCharacter", "domain_last_label": "anp.ErrDomainLastLabel",
		},
		Cases: addressCases(),
	})
}

// errClass returns the expect name of err among classes, "valid" for nil
// and "unclassified" otherwise.
func errClass(err error, classes map[string]error) string {
	if err == nil {
		return "valid"
	}
	for name, class := range classes {
		if errors.Is(err, class) {
			return name
		}
	}
	return "unclassified"
}
