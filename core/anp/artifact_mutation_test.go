package anp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// jsonPath addresses a value inside generic JSON: string keys and int indexes.
type jsonPath []any

func (p jsonPath) String() string {
	var b strings.Builder
	for i, s := range p {
		switch s := s.(type) {
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}

// lastKey is the last object key of the path ("" if none).
func (p jsonPath) lastKey() string {
	for i := len(p) - 1; i >= 0; i-- {
		if s, ok := p[i].(string); ok {
			return s
		}
	}
	return ""
}

// decodeGeneric parses JSON keeping numbers exact.
func decodeGeneric(tb testing.TB, data []byte) any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatal(err)
	}
	return v
}

// walk calls f for every value below v (objects, arrays and scalars) with its path.
func walk(v any, p jsonPath, f func(p jsonPath, v any)) {
	f(p, v)
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			walk(c, append(append(jsonPath(nil), p...), k), f)
		}
	case []any:
		for i, c := range v {
			walk(c, append(append(jsonPath(nil), p...), i), f)
		}
	}
}

// edit applies f to the parent container of p in a fresh copy of doc.
func edit(tb testing.TB, doc []byte, p jsonPath, f func(parent any, last any) any) []byte {
	tb.Helper()
	root := decodeGeneric(tb, doc)
	if len(p) == 0 {
		tb.Fatal("cannot edit the root")
	}
	parent := root
	for _, s := range p[:len(p)-1] {
		switch s := s.(type) {
		case string:
			parent = parent.(map[string]any)[s]
		case int:
			parent = parent.([]any)[s]
		}
	}
	last := p[len(p)-1]
	replaced := f(parent, last)
	if replaced != nil { // the parent array was replaced (arrays cannot shrink in place)
		if len(p) == 1 {
			root = replaced
		} else {
			grand := root
			for _, s := range p[:len(p)-2] {
				switch s := s.(type) {
				case string:
					grand = grand.(map[string]any)[s]
				case int:
					grand = grand.([]any)[s]
				}
			}
			switch k := p[len(p)-2].(type) {
			case string:
				grand.(map[string]any)[k] = replaced
			case int:
				grand.([]any)[k] = replaced
			}
		}
	}
	return mustJSON(tb, root)
}

// changeScalar returns a different value of the same JSON kind, keeping
// strings in their character class so that shape checks pass and the
// failure has to come from a signature, a proof or a cross-check.
func changeScalar(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return json.Number(strconv.FormatInt(n+1, 10))
		}
		return json.Number(string(v) + "1")
	case bool:
		return !v
	case string:
		if v == "" {
			return "0"
		}
		b := []byte(v)
		i := len(b) - 1
		switch c := b[i]; {
		case c == '9':
			b[i] = '0'
		case c >= '0' && c < '9':
			b[i] = c + 1
		case c == 'f':
			b[i] = 'a' // stays lower-case hex
		case c >= 'a' && c < 'f':
			b[i] = c + 1
		case c >= 'g' && c < 'z', c >= 'A' && c < 'Z':
			b[i] = c + 1
		case c == 'z':
			b[i] = 'g'
		case c == 'Z':
			b[i] = 'A'
		default:
			b[i] = 'x'
		}
		return string(b)
	}
	return nil
}

// mutationFragments lists, by path prefix, what the error of a mutation
// there must mention (any one of the fragments). The longest prefix wins.
var mutationFragments = map[string][]string{
	"deal":                  {"buyer signature", "artifact: "},
	"buyer_sig":             {"buyer signature"},
	"seller_sig":            {"seller signature"},
	"registry":              {"registry countersignature", "registry key"},
	"receipt":               {"log receipt"},
	"receipt.leaf_index":    {"inclusion proof", "leaf index"},
	"receipt.tree_head":     {"tree head", "inclusion proof"},
	"receipt.inclusion":     {"inclusion proof"},
	"receipt.key_chain":     {"key chain"},
	"receipt.root_key":      {"root key"},
	"receipt.tree_head.sig": {"tree head"},
}

func fragmentsFor(p jsonPath) []string {
	s := p.String()
	best := ""
	for prefix := range mutationFragments {
		if (s == prefix || strings.HasPrefix(s, prefix+".") || strings.HasPrefix(s, prefix+"[")) && len(prefix) > len(best) {
			best = prefix
		}
	}
	return mutationFragments[best]
}

// mutationOutcome decodes and verifies a mutated artifact. It returns
// "decode", "verify" (refused, with err) or "same" when the mutation is a
// semantic no-op (the decoded artifact is canonically identical to the
// original, e.g. a deleted key whose value was the zero value).
func mutationOutcome(t *testing.T, data, originalCanonical []byte, pinned string) (string, error) {
	var a anp.Artifact
	if err := anp.DecodeStrict(data, &a); err != nil {
		return "decode", err
	}
	err := anp.VerifyArtifact(&a, anp.VerifyOptions{RootKey: pinned})
	if err != nil {
		if anp.CodeOf(err) == "" {
			t.Errorf("VerifyArtifact error %q has no protocol code", err)
		}
		return "verify", err
	}
	c, cerr := anp.Canonical(&a)
	if cerr != nil || !bytes.Equal(c, originalCanonical) {
		t.Errorf("a changed artifact verified:\n%s", data)
	}
	return "same", nil
}

// Every field of a valid artifact, changed, deleted or joined by an unknown
// sibling, is refused, and the error names the part that failed.
func TestVerifyArtifactRefusesEveryFieldChange(t *testing.T) {
	fx := buildArtifact(t)
	doc := mustJSON(t, fx.Artifact)
	original := mustCanonical(t, fx.Artifact)
	root := decodeGeneric(t, doc)

	var paths []jsonPath
	walk(root, nil, func(p jsonPath, v any) {
		if len(p) > 0 {
			paths = append(paths, p)
		}
	})
	counts := map[string]int{}
	check := func(what string, p jsonPath, data []byte, mustFail bool) {
		t.Helper()
		outcome, err := mutationOutcome(t, data, original, fx.RootKey)
		counts[what+"/"+outcome]++
		switch outcome {
		case "same":
			if mustFail {
				t.Errorf("%s %s: the mutated artifact verified", what, p)
			}
		case "verify":
			frags := fragmentsFor(p)
			ok := false
			for _, f := range frags {
				if strings.Contains(err.Error(), f) {
					ok = true
				}
			}
			// Validation errors on the deal name the offending field.
			if k := p.lastKey(); strings.HasPrefix(p.String(), "deal") && strings.Contains(err.Error(), "artifact: ") {
				ok = strings.Contains(err.Error(), k) || (k == "v" || k == "deal") && strings.Contains(err.Error(), "artifact version")
			}
			if !ok {
				t.Errorf("%s %s: error %q names none of %q", what, p, err, frags)
			}
		}
	}
	for _, p := range paths {
		// Change the value (scalars only; containers are covered through their leaves).
		var leaf any
		walk(root, nil, func(q jsonPath, v any) {
			if q.String() == p.String() {
				leaf = v
			}
		})
		if nv := changeScalar(leaf); nv != nil {
			data := edit(t, doc, p, func(parent, last any) any {
				switch k := last.(type) {
				case string:
					parent.(map[string]any)[k] = nv
				case int:
					parent.([]any)[k] = nv
				}
				return nil
			})
			check("change", p, data, true)
		}
		switch last := p[len(p)-1].(type) {
		case string:
			// Delete the key: refused unless its value was the zero value.
			data := edit(t, doc, p, func(parent, _ any) any { delete(parent.(map[string]any), last); return nil })
			check("delete", p, data, false)
		case int:
			// Drop or duplicate the array element. Dropping the unused last
			// key chain entry leaves a valid receipt: see
			// TestVerifyArtifactAcceptsKeyChainPrefix.
			data := edit(t, doc, p, func(parent, _ any) any {
				arr := parent.([]any)
				return append(append([]any(nil), arr[:last]...), arr[last+1:]...)
			})
			if p.String() != fmt.Sprintf("receipt.key_chain[%d]", len(fx.Chain)-1) {
				check("drop", p, data, true)
			}
			data = edit(t, doc, p, func(parent, _ any) any {
				arr := parent.([]any)
				out := append([]any(nil), arr[:last+1]...)
				return append(append(out, arr[last]), arr[last+1:]...)
			})
			check("duplicate", p, data, true)
		}
		// An unknown sibling field is refused by the strict decoder.
		if _, isObj := leaf.(map[string]any); isObj {
			data := edit(t, append([]byte(nil), doc...), append(append(jsonPath(nil), p...), "x_unknown"), func(parent, _ any) any {
				parent.(map[string]any)["x_unknown"] = true
				return nil
			})
			if outcome, _ := mutationOutcome(t, data, original, fx.RootKey); outcome != "decode" {
				t.Errorf("unknown field under %s: outcome %s, want a decode error", p, outcome)
			}
			counts["unknown/decode"]++
		}
	}
	var top map[string]any
	if err := json.Unmarshal(doc, &top); err != nil {
		t.Fatal(err)
	}
	top["budget"] = 9000
	if outcome, err := mutationOutcome(t, mustJSON(t, top), original, fx.RootKey); outcome != "decode" {
		t.Errorf("unknown top-level field: outcome %s (%v), want a decode error", outcome, err)
	}
	// The root key mutation without a pin fails in the key chain instead.
	data := edit(t, doc, jsonPath{"receipt", "root_key"}, func(parent, _ any) any {
		parent.(map[string]any)["root_key"] = changeScalar(fx.RootKey)
		return nil
	})
	var a anp.Artifact
	if err := anp.DecodeStrict(data, &a); err != nil {
		t.Fatal(err)
	}
	wantCode(t, anp.VerifyArtifact(&a, anp.VerifyOptions{}), anp.CodeBadSignature, "registry key chain entry 0")

	total := 0
	for _, n := range counts {
		total += n
	}
	t.Logf("%d mutations over %d paths: %v", total, len(paths), counts)
	if counts["change/verify"] < 40 || counts["change/same"] != 0 {
		t.Fatalf("field changes: %v", counts)
	}
}

// Flipping one bit at every byte position of the serialised artifact either
// breaks decoding, fails verification with a protocol error, or leaves the
// decoded artifact canonically identical (for example a key whose letter
// case changed: encoding/json matches keys case-insensitively).
func TestVerifyArtifactRefusesBitFlips(t *testing.T) {
	fx := buildArtifact(t)
	doc := mustJSON(t, fx.Artifact)
	original := mustCanonical(t, fx.Artifact)
	stride := 1
	if testing.Short() {
		stride = 7
	}
	counts := map[string]int{}
	for i := 0; i < len(doc); i += stride {
		bit := byte(1) << (i % 8)
		data := append([]byte(nil), doc...)
		data[i] ^= bit
		outcome, _ := mutationOutcome(t, data, original, fx.RootKey)
		counts[outcome]++
	}
	total := counts["decode"] + counts["verify"] + counts["same"]
	t.Logf("%d bit flips in %d bytes: %d fail to decode, %d fail verification, %d decode to the same artifact",
		total, len(doc), counts["decode"], counts["verify"], counts["same"])
	if counts["verify"] == 0 || counts["decode"] == 0 {
		t.Fatalf("implausible outcome counts %v", counts)
	}
	// Semantic no-ops are rare: only key case flips can produce them.
	if counts["same"]*20 > total {
		t.Fatalf("%d of %d flips decoded to the same artifact", counts["same"], total)
	}
}

// The receipt is proof material, not signed as a whole: a key chain cut to a
// prefix that still holds every key the artifact uses is still a proof, and
// so is a later tree head with its own inclusion proof. Cutting off a key
// that is used is refused.
func TestVerifyArtifactAcceptsKeyChainPrefix(t *testing.T) {
	fx := buildArtifact(t)
	pinned := anp.VerifyOptions{RootKey: fx.RootKey}
	a := cloneArtifact(t, fx.Artifact)
	a.Receipt.KeyChain = a.Receipt.KeyChain[:1]
	if err := anp.VerifyArtifact(a, pinned); err != nil {
		t.Fatalf("prefix chain: %v", err)
	}
	// A later tree head (signed by key 1 once it is valid) with its proof.
	b := cloneArtifact(t, fx.Artifact)
	tree := fx.Tree
	tree.append(fillerLeaf(100))
	later := signedHead(t, tree, tree.size(), t0.Add(2*time.Hour).UnixMilli(), nextKey, 1)
	b.Receipt.TreeHead = later
	b.Receipt.Inclusion = hexHashes(tree.inclusion(t, b.Receipt.LeafIndex, tree.size()))
	if err := anp.VerifyArtifact(b, pinned); err != nil {
		t.Fatalf("later tree head: %v", err)
	}
	b.Receipt.KeyChain = b.Receipt.KeyChain[:1]
	wantCode(t, anp.VerifyArtifact(b, pinned), anp.CodeBadSignature, "registry key 1 is not in the key chain (1 entries)")
}
