package anp_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Vectors for the validity windows of registry chain keys (key_windows.json):
// a domain binding is checked at its bound_at, a signed tree head at its
// timestamp, an artifact's countersignature at its notarized_at and a token
// at its iat against the window of the key that signed it; a current head
// must be dated near the reader's clock; of two heads, the larger must not
// be dated before the smaller.

type bindingCase struct {
	Description string            `json:"description"`
	Binding     anp.DomainBinding `json:"binding"`
	Expect      string            `json:"expect"`
}

type treeHeadCase struct {
	Description string             `json:"description"`
	TreeHead    anp.SignedTreeHead `json:"tree_head"`
	Expect      string             `json:"expect"`
}

type countersignatureCase struct {
	Description string        `json:"description"`
	Artifact    *anp.Artifact `json:"artifact"`
	Expect      string        `json:"expect"`
}

type tokenWindowCase struct {
	Description string `json:"description"`
	Token       string `json:"token"`
	Now         int64  `json:"now"`
	Expect      string `json:"expect"`
}

type currentHeadCase struct {
	Description string             `json:"description"`
	TreeHead    anp.SignedTreeHead `json:"tree_head"`
	Now         int64              `json:"now"`
	Expect      string             `json:"expect"`
}

type headPairCase struct {
	Description string             `json:"description"`
	First       anp.SignedTreeHead `json:"first"`
	Second      anp.SignedTreeHead `json:"second"`
	Expect      string             `json:"expect"`
}

type keyWindowFile struct {
	Description       string                 `json:"description"`
	ExpectNames       map[string]string      `json:"expect_names"`
	RootKey           string                 `json:"root_key"`
	KeyChain          []anp.KeyEntry         `json:"key_chain"`
	MaxClockSkewMs    int64                  `json:"max_clock_skew_ms"`
	Bindings          []bindingCase          `json:"bindings"`
	TreeHeads         []treeHeadCase         `json:"tree_heads"`
	Countersignatures []countersignatureCase `json:"countersignatures"`
	Tokens            []tokenWindowCase      `json:"tokens"`
	CurrentHeads      []currentHeadCase      `json:"current_heads"`
	HeadPairs         []headPairCase         `json:"head_pairs"`
}

// keyWindowClasses are the named failures of key_windows.json.
var keyWindowClasses = map[string]error{
	"key_window":          anp.ErrKeyWindow,
	"head_not_fresh":      anp.ErrHeadNotFresh,
	"head_time_backwards": anp.ErrHeadTimeBackwards,
}

// windowRoot is the root hash of the vector heads (any well-formed hash).
var windowRoot = anp.HashBytes([]byte("key window vectors"))

func windowHead(tb testing.TB, size uint64, ts int64, key ed25519.PrivateKey, kid uint64) anp.SignedTreeHead {
	tb.Helper()
	h := anp.SignedTreeHead{Size: size, RootHash: windowRoot, Timestamp: ts, KeyIndex: kid}
	if err := anp.SignTreeHead(&h, anp.Signer(key)); err != nil {
		tb.Fatal(err)
	}
	return h
}

// windowArtifact is the fixture artifact countersigned at ms by key (chain
// index kid) and logged under a tree head that key signs at ms.
func windowArtifact(tb testing.TB, fx *artifactFixture, ms int64, key ed25519.PrivateKey, kid uint64) *anp.Artifact {
	tb.Helper()
	a := cloneArtifact(tb, fx.Artifact)
	a.Registry, a.Receipt = nil, nil
	notarizeAt(tb, a, fx.Chain, fx.RootKey, ms, key, kid)
	return a
}

// windowToken is a token of the buyer identity issued at ms for 15 minutes
// by key (chain index kid).
func windowToken(tb testing.TB, ms int64, key ed25519.PrivateKey, kid uint64) string {
	tb.Helper()
	tok, err := anp.IssueToken(anp.TokenClaims{Sub: pub(identityKey), Iat: ms, Exp: ms + 15*time.Minute.Milliseconds(), KeyIndex: kid,
		ID: "7f3a9c0e5b1d4f2a8c6e0b9d1f3a5c7e"}, anp.Signer(key))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func windowBinding(tb testing.TB, boundAt int64, key ed25519.PrivateKey, kid uint64) anp.DomainBinding {
	tb.Helper()
	d := anp.DomainBinding{Domain: sellerDomain, Key: pub(sellerKey), BoundAt: boundAt, KeyIndex: kid}
	if err := anp.SignDomainBinding(&d, anp.Signer(key)); err != nil {
		tb.Fatal(err)
	}
	return d
}

// buildKeyWindowFile signs each case with the fixture chain: key 0 valid
// [t0-24h, t0+1h), key 1 valid [t0+55m, t0+25h).
func buildKeyWindowFile(tb testing.TB) keyWindowFile {
	tb.Helper()
	chain := buildKeyChain(tb, rootKey, notaryKey, nextKey)
	k0, k1 := chain[0], chain[1]
	fx := buildArtifact(tb) // its chain is this one
	hour := time.Hour.Milliseconds()
	f := keyWindowFile{
		Description: "Validity windows of registry chain keys (protocol §4, §10, §11, §15). A domain binding MUST be refused unless the key kid was valid " +
			"at bound_at, a signed tree head unless the key key_index was valid at timestamp (valid_from <= t < valid_until), " +
			"an artifact unless the key key_index of its countersignature was valid at notarized_at (the artifact is verified whole, root_key pinned), " +
			"a token unless the key kid was valid at iat (the token is parsed at now, its iat); " +
			"a head fetched as the current one (GET /v1/log/head) MUST be refused when its timestamp is more than max_clock_skew_ms from now; " +
			"of two heads of one log, the one with more entries MUST NOT be dated before the one with fewer. Each case is signed correctly, " +
			"so only the dates decide. expect is \"valid\" or the named failure.",
		ExpectNames:    map[string]string{"key_window": "anp.ErrKeyWindow", "head_not_fresh": "anp.ErrHeadNotFresh", "head_time_backwards": "anp.ErrHeadTimeBackwards"},
		RootKey:        pub(rootKey),
		KeyChain:       chain,
		MaxClockSkewMs: anp.MaxClockSkew.Milliseconds(),
	}
	type dated struct {
		desc string
		at   int64
		key  ed25519.PrivateKey
		kid  uint64
		want string
	}
	// The artifact of artifact.json, notarised by key 0 a second after the
	// deal was created; the dates below that are before it are left out.
	f.Countersignatures = append(f.Countersignatures, countersignatureCase{Description: "notarised inside key 0's window (artifact.json)",
		Artifact: windowArtifact(tb, fx, fx.Artifact.Registry.NotarizedAt, notaryKey, 0), Expect: "valid"})
	for _, d := range []dated{
		{"at the first instant of key 0", k0.ValidFrom, notaryKey, 0, "valid"},
		{"inside key 0's window", t0Ms, notaryKey, 0, "valid"},
		{"in the overlap, by the retiring key 0", k1.ValidFrom + 1000, notaryKey, 0, "valid"},
		{"in the overlap, by the new key 1", k1.ValidFrom + 1000, nextKey, 1, "valid"},
		{"at the last millisecond of key 0", k0.ValidUntil - 1, notaryKey, 0, "valid"},
		{"at key 0's valid_until (the window is exclusive)", k0.ValidUntil, notaryKey, 0, "key_window"},
		{"42 hours after key 0 expired, by key 0", k0.ValidUntil + 42*hour, notaryKey, 0, "key_window"},
		{"a millisecond before key 0's valid_from", k0.ValidFrom - 1, notaryKey, 0, "key_window"},
		{"before key 1 was valid, by key 1", k1.ValidFrom - 1, nextKey, 1, "key_window"},
	} {
		f.Bindings = append(f.Bindings, bindingCase{Description: "bound " + d.desc, Binding: windowBinding(tb, d.at, d.key, d.kid), Expect: d.want})
		f.TreeHeads = append(f.TreeHeads, treeHeadCase{Description: "dated " + d.desc, TreeHead: windowHead(tb, 7, d.at, d.key, d.kid), Expect: d.want})
		f.Tokens = append(f.Tokens, tokenWindowCase{Description: "issued " + d.desc, Token: windowToken(tb, d.at, d.key, d.kid), Now: d.at, Expect: d.want})
		if d.at > fx.Artifact.Terms.CreatedAt { // an artifact is notarised after it was created
			f.Countersignatures = append(f.Countersignatures, countersignatureCase{Description: "notarised " + d.desc,
				Artifact: windowArtifact(tb, fx, d.at, d.key, d.kid), Expect: d.want})
		}
	}
	skew := anp.MaxClockSkew.Milliseconds()
	head := windowHead(tb, 7, t0Ms, notaryKey, 0)
	for _, c := range []struct {
		desc string
		now  int64
		want string
	}{
		{"dated now", t0Ms, "valid"},
		{"dated the full skew before now", t0Ms + skew, "valid"},
		{"dated the full skew after now", t0Ms - skew, "valid"},
		{"dated a millisecond more than the skew before now", t0Ms + skew + 1, "head_not_fresh"},
		{"dated a millisecond more than the skew after now", t0Ms - skew - 1, "head_not_fresh"},
		{"back-dated by 42 hours, inside its key's window", t0Ms + 42*hour, "head_not_fresh"},
	} {
		f.CurrentHeads = append(f.CurrentHeads, currentHeadCase{Description: c.desc, TreeHead: head, Now: c.now, Expect: c.want})
	}
	pair := func(desc string, a, b anp.SignedTreeHead, want string) {
		f.HeadPairs = append(f.HeadPairs, headPairCase{Description: desc, First: a, Second: b, Expect: want})
	}
	pair("the larger head dated later", windowHead(tb, 3, t0Ms, notaryKey, 0), windowHead(tb, 7, t0Ms+1000, notaryKey, 0), "valid")
	pair("the larger head dated at the same instant", windowHead(tb, 3, t0Ms, notaryKey, 0), windowHead(tb, 7, t0Ms, notaryKey, 0), "valid")
	pair("equal sizes, the second dated earlier", windowHead(tb, 7, t0Ms, notaryKey, 0), windowHead(tb, 7, t0Ms-1000, notaryKey, 0), "valid")
	pair("the larger head dated a millisecond earlier", windowHead(tb, 3, t0Ms, notaryKey, 0), windowHead(tb, 7, t0Ms-1, notaryKey, 0), "head_time_backwards")
	pair("the smaller head dated later", windowHead(tb, 7, t0Ms, notaryKey, 0), windowHead(tb, 3, t0Ms+1000, notaryKey, 0), "head_time_backwards")
	return f
}

// checkKeyWindowCases runs every case of f with the verifier and reports
// those whose outcome differs from expect.
func checkKeyWindowCases(tb testing.TB, f keyWindowFile) {
	tb.Helper()
	if err := anp.VerifyKeyChain(f.RootKey, f.KeyChain); err != nil {
		tb.Fatalf("key_windows.json chain: %v", err)
	}
	check := func(what, desc, expect string, err error) {
		if got := errClass(err, keyWindowClasses); got != expect {
			tb.Errorf("key_windows.json %s %q: got %s (%v), expect %s", what, desc, got, err, expect)
		}
	}
	for _, c := range f.Bindings {
		check("binding", c.Description, c.Expect, c.Binding.Verify(f.KeyChain))
	}
	for _, c := range f.TreeHeads {
		check("tree head", c.Description, c.Expect, anp.VerifyTreeHead(&c.TreeHead, f.KeyChain))
	}
	for _, c := range f.Countersignatures {
		check("countersignature", c.Description, c.Expect, anp.VerifyArtifact(c.Artifact, anp.VerifyOptions{RootKey: f.RootKey}))
	}
	for _, c := range f.Tokens {
		_, err := anp.ParseTokenInChain(c.Token, time.UnixMilli(c.Now), f.KeyChain)
		check("token", c.Description, c.Expect, err)
	}
	for _, c := range f.CurrentHeads {
		err := anp.VerifyTreeHead(&c.TreeHead, f.KeyChain)
		if err == nil {
			err = anp.CheckHeadFresh(&c.TreeHead, time.UnixMilli(c.Now))
		}
		check("current head", c.Description, c.Expect, err)
	}
	for _, c := range f.HeadPairs {
		err := anp.VerifyTreeHead(&c.First, f.KeyChain)
		if err == nil {
			err = anp.VerifyTreeHead(&c.Second, f.KeyChain)
		}
		if err == nil {
			err = anp.CheckHeadOrder(&c.First, &c.Second)
		}
		check("head pair", c.Description, c.Expect, err)
	}
}

func addKeyWindowVectors(tb testing.TB, files map[string][]byte) {
	tb.Helper()
	files["key_windows.json"] = encodeVector(tb, buildKeyWindowFile(tb))
}

// TestKeyWindowVectors runs key_windows.json, as stored, with the verifier.
func TestKeyWindowVectors(t *testing.T) {
	var f keyWindowFile
	readVector(t, "key_windows.json", &f)
	if len(f.Bindings) == 0 || len(f.TreeHeads) == 0 || len(f.Countersignatures) == 0 || len(f.Tokens) == 0 ||
		len(f.CurrentHeads) == 0 || len(f.HeadPairs) == 0 {
		t.Fatal("key_windows.json lacks a case list")
	}
	checkKeyWindowCases(t, f)
}
