package anp_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestGrantRoundTripAndCodes: a grant issued with the root key parses for
// its domain within its window; each refusal has its named class and code.
func TestGrantRoundTripAndCodes(t *testing.T) {
	c, err := anp.NewGrantClaims("Kitchen-Outlet.anp", t0, time.Hour)
	if err != nil || c.Domain != sellerDomain || len(c.ID) != 32 || c.Exp-c.Iat != 3_600_000 {
		t.Fatalf("NewGrantClaims: %+v %v", c, err)
	}
	if again, _ := anp.NewGrantClaims(sellerDomain, t0, time.Hour); again.ID == c.ID {
		t.Fatal("two grants share an id")
	}
	g := mustGrant(t, c, rootKey)
	got, err := anp.ParseGrant(g, pub(rootKey), sellerDomain, t0.Add(time.Minute))
	if err != nil || *got != c {
		t.Fatalf("ParseGrant: %+v %v", got, err)
	}
	tests := []struct {
		name   string
		grant  string
		root   string
		domain string
		now    time.Time
		class  error
		code   anp.Code
	}{
		{"another domain", g, pub(rootKey), "other.anp", t0, anp.ErrGrantDomain, anp.CodeForbidden},
		{"expired", g, pub(rootKey), sellerDomain, t0.Add(time.Hour), anp.ErrGrantExpired, anp.CodeExpired},
		{"not yet valid", g, pub(rootKey), sellerDomain, t0.Add(-anp.MaxClockSkew - time.Millisecond), anp.ErrGrantExpired, anp.CodeExpired},
		{"another registry's root key", g, pub(notaryKey), sellerDomain, t0, anp.ErrGrantSignature, anp.CodeUnauthorized},
		{"too long", strings.Repeat("a", anp.MaxGrantLen+1), pub(rootKey), sellerDomain, t0, anp.ErrGrantFormat, anp.CodeUnauthorized},
		{"empty", "", pub(rootKey), sellerDomain, t0, anp.ErrGrantFormat, anp.CodeUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := anp.ParseGrant(tc.grant, tc.root, tc.domain, tc.now)
			if !errors.Is(err, tc.class) || anp.CodeOf(err) != tc.code {
				t.Fatalf("ParseGrant: %v (code %s), want %v with code %s", err, anp.CodeOf(err), tc.class, tc.code)
			}
			if tc.grant != "" && strings.Contains(err.Error(), tc.grant) {
				t.Fatal("the error repeats the grant, a secret")
			}
		})
	}
	if _, err := anp.NewGrantClaims(sellerDomain, t0, anp.MaxGrantTTL+time.Millisecond); anp.CodeOf(err) != anp.CodeBadRequest {
		t.Fatalf("a grant longer than MaxGrantTTL: %v", err)
	}
	if _, err := anp.IssueGrant(anp.GrantClaims{Domain: sellerDomain}, anp.Signer(rootKey)); anp.CodeOf(err) != anp.CodeBadRequest {
		t.Fatalf("IssueGrant of empty claims: %v", err)
	}
}

// TestKeyEventLeavesAreNotArtifacts: the key event leaf is told apart from
// a deal artifact's by its top-level key_event member; an artifact's leaf
// bytes are what they were before key events existed.
func TestKeyEventLeavesAreNotArtifacts(t *testing.T) {
	for i, l := range fixtureLeaves(t) {
		data, err := l.LeafData()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte(`{"key_event":{`)) {
			t.Fatalf("leaf %d starts %.20s, want the key_event member first", i, data)
		}
		a, k, err := anp.ParseLeaf(data)
		if err != nil || a != nil || k == nil || k.Event.Seq != uint64(i) {
			t.Fatalf("ParseLeaf(leaf %d) = %v, %v, %v", i, a, k, err)
		}
		var art anp.Artifact
		if anp.DecodeStrict(data, &art) == nil {
			t.Fatalf("leaf %d decodes as an artifact", i)
		}
	}
	seed := artifactSeed(t)
	var art anp.Artifact
	if err := anp.DecodeStrict(seed, &art); err != nil {
		t.Fatal(err)
	}
	leaf, err := art.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	a, k, err := anp.ParseLeaf(leaf)
	if err != nil || k != nil || a == nil || a.Terms.SessionID != sessionID {
		t.Fatalf("ParseLeaf(artifact leaf) = %v, %v, %v", a, k, err)
	}
	if !bytes.HasPrefix(leaf, []byte(`{"buyer_sig":`)) {
		t.Fatalf("artifact leaf starts %.20s", leaf)
	}
}

// TestKeyChangeSigning: SignKeyChange refuses what Verify would refuse,
// and a revocation needs no second signer while a rotation does.
func TestKeyChangeSigning(t *testing.T) {
	rot := anp.KeyChange{Domain: sellerDomain, Kind: anp.KeyEventRotate, By: anp.ChangeByKey, Key: pub(sellerKey), NewKey: pub(nextSellerKey), Seq: 1, TS: rotateMs}
	if _, err := anp.SignKeyChange(rot, anp.Signer(sellerKey), nil); anp.CodeOf(err) != anp.CodeBadRequest {
		t.Fatalf("a rotation without the new key's signer: %v", err)
	}
	same := rot
	same.NewKey = same.Key
	if _, err := anp.SignKeyChange(same, anp.Signer(sellerKey), anp.Signer(sellerKey)); !errors.Is(err, anp.ErrKeyEventMalformed) {
		t.Fatalf("a rotation to the same key: %v", err)
	}
	sc, err := anp.SignKeyChange(rot, anp.Signer(sellerKey), anp.Signer(nextSellerKey))
	if err != nil || sc.Verify(pub(rootKey)) != nil {
		t.Fatalf("signed rotation: %+v %v", sc, err)
	}
	rev := anp.KeyChange{Domain: sellerDomain, Kind: anp.KeyEventRevoke, By: anp.ChangeByKey, Key: pub(sellerKey), Seq: 1, TS: rotateMs}
	sc, err = anp.SignKeyChange(rev, anp.Signer(sellerKey), nil)
	if err != nil || sc.NewSig != "" || sc.Verify("") != nil {
		t.Fatalf("signed revocation: %+v %v", sc, err)
	}
	sc.NewSig = sc.Sig
	if err := sc.Verify(""); !errors.Is(err, anp.ErrKeyEventMalformed) {
		t.Fatalf("a revocation with new_sig: %v", err)
	}
	op := rev
	op.By = anp.ChangeByOperator
	sc, _ = anp.SignKeyChange(op, anp.Signer(rootKey), nil)
	if err := sc.Verify(pub(notaryKey)); !errors.Is(err, anp.ErrKeyEventSignature) {
		t.Fatalf("an operator revocation checked against another root: %v", err)
	}
}

// FuzzParseGrant: any text either parses into valid claims whose grant
// text, issued again, is the input (one reading), or is refused with
// unauthorized, forbidden or expired.
func FuzzParseGrant(f *testing.F) {
	for _, c := range grantCases(f) {
		f.Add(c.Grant, c.Domain, c.Now)
	}
	f.Add("", sellerDomain, t0Ms)
	f.Add(".", sellerDomain, t0Ms)
	f.Fuzz(func(t *testing.T, grant, domain string, now int64) {
		c, err := anp.ParseGrant(grant, pub(rootKey), domain, time.UnixMilli(now))
		if err != nil {
			switch anp.CodeOf(err) {
			case anp.CodeUnauthorized, anp.CodeForbidden, anp.CodeExpired:
			default:
				t.Fatalf("refusal with code %q: %v", anp.CodeOf(err), err)
			}
			return
		}
		if c.Domain != domain || now >= c.Exp || c.Exp-c.Iat > anp.MaxGrantTTL.Milliseconds() {
			t.Fatalf("accepted %+v for %s at %d", c, domain, now)
		}
	})
}

// FuzzVerifyKeyEventLeaf: any leaf either is refused with a protocol code,
// or is a key event whose signatures verify, which re-encodes to a leaf
// that verifies too, and which (for the fixture leaves) follows the
// fixture history.
func FuzzVerifyKeyEventLeaf(f *testing.F) {
	for _, c := range leafCases(f) {
		f.Add([]byte(c.LeafData))
	}
	f.Add(artifactSeed(f))
	f.Add([]byte(`{"key_event":{},"registry":{}}`))
	chain := buildKeyChain(f, rootKey, notaryKey, nextKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, l, err := anp.ParseLeaf(data)
		if err != nil {
			if anp.CodeOf(err) == "" {
				t.Fatalf("parse error without a protocol code: %v", err)
			}
			return
		}
		if a != nil {
			return // an artifact: FuzzVerifyArtifact's business
		}
		if err := l.Verify(pub(rootKey), chain); err != nil {
			if anp.CodeOf(err) == "" {
				t.Fatalf("verify error without a protocol code: %v", err)
			}
			return
		}
		again, err := l.LeafData()
		if err != nil {
			t.Fatal(err)
		}
		_, l2, err := anp.ParseLeaf(again)
		if err != nil || l2.Verify(pub(rootKey), chain) != nil {
			t.Fatalf("a verified leaf does not verify once re-encoded: %v", err)
		}
		st := anp.KeyState{Domain: l.Event.Domain, Next: l.Event.Seq}
		if l.Event.Kind != anp.KeyEventBind {
			st.Key = l.Event.Key
			if l.Event.Change != nil {
				st.Key = l.Event.Change.Change.Key
			}
		}
		if err := st.Apply(&l.Event, 0); err != nil && !errors.Is(err, anp.ErrKeyEventOrder) {
			t.Fatalf("Apply: %v", err)
		}
	})
}

// FuzzVerifyKeyChange: a signed change decoded from any JSON either is
// refused with a code, or verifies: then its kind, signer and keys are
// consistent.
func FuzzVerifyKeyChange(f *testing.F) {
	for _, l := range fixtureLeaves(f)[1:] {
		f.Add(mustCanonical(f, l.Event.Change))
	}
	f.Add([]byte(`{"change":{},"sig":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var sc anp.SignedKeyChange
		if err := anp.DecodeStrict(data, &sc); err != nil {
			return
		}
		if err := sc.Verify(pub(rootKey)); err != nil {
			if anp.CodeOf(err) == "" {
				t.Fatalf("error without a protocol code: %v", err)
			}
			return
		}
		c := sc.Change
		switch {
		case c.Kind == anp.KeyEventRotate && (c.By != anp.ChangeByKey || c.NewKey == "" || c.NewKey == c.Key || sc.NewSig == ""):
			t.Fatalf("accepted rotation %+v", sc)
		case c.Kind == anp.KeyEventRevoke && (c.NewKey != "" || sc.NewSig != ""):
			t.Fatalf("accepted revocation %+v", sc)
		case c.Kind != anp.KeyEventRotate && c.Kind != anp.KeyEventRevoke:
			t.Fatalf("accepted kind %q", c.Kind)
		}
	})
}
