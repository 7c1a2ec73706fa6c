package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// chainKeyFor looks kid up in chain, nil when it is not there.
func chainKeyFor(chain []anp.KeyEntry) func(uint64) *anp.KeyEntry {
	return func(kid uint64) *anp.KeyEntry {
		e, err := anp.ChainKey(chain, kid)
		if err != nil {
			return nil
		}
		return e
	}
}

func TestRelaySignatureRoundTrip(t *testing.T) {
	chain := buildKeyChain(t, rootKey, notaryKey, nextKey)
	body := []byte(`{"v":1,"type":"PROPOSE"}`)
	target := anp.RelayTarget{Domain: sellerDomain, Route: anp.SellerHandshake, Body: body}
	h := mustSignRelay(t, notaryKey, 0, target, t0)
	want := "kid=0;ts=" + strconv.FormatInt(t0Ms, 10) + ";sig="
	if !strings.HasPrefix(h, want) || len(h) != len(want)+128 {
		t.Fatalf("header %q, want %s<128 hex>", h, want)
	}
	a, err := anp.VerifyRelay(h, target, t0.Add(time.Minute), chainKeyFor(chain))
	if err != nil {
		t.Fatalf("VerifyRelay: %v", err)
	}
	if a.KeyIndex != 0 || a.TS != t0Ms || a.String() != h {
		t.Fatalf("parsed %+v, String %q", a, a.String())
	}
	// The signature covers exactly the documented value.
	sum := sha256.Sum256(body)
	claims := map[string]any{"body_sha256": hex.EncodeToString(sum[:]), "domain": sellerDomain, "kid": 0, "route": "/handshake", "ts": t0Ms}
	if err := anp.Verify(pub(notaryKey), anp.PurposeRelay, claims, a.Sig); err != nil {
		t.Fatalf("signature is not over %v: %v", claims, err)
	}
}

func TestRelaySignatureRefusals(t *testing.T) {
	chain := buildKeyChain(t, rootKey, notaryKey, nextKey)
	target := anp.RelayTarget{Domain: sellerDomain, Route: anp.SellerCounter, Body: []byte(`{"a":1}`)}
	h := mustSignRelay(t, notaryKey, 0, target, t0)
	tests := []struct {
		name   string
		header string
		target anp.RelayTarget
		now    time.Time
		class  error
		msg    string
	}{
		{"missing", "", target, t0, anp.ErrRelayMissing, "no ANP-Relay header"},
		{"garbage", "Bearer xyz", target, t0, anp.ErrRelayFormat, "kid=K;ts=T;sig=S"},
		{"negative ts", "kid=0;ts=-5;sig=" + h[len(h)-128:], target, t0, anp.ErrRelayFormat, "ts must be"},
		{"plus sign", strings.Replace(h, "kid=0", "kid=+0", 1), target, t0, anp.ErrRelayFormat, "kid must be"},
		{"stale", h, target, t0.Add(anp.RelayMaxAge + time.Second), anp.ErrRelayStale, "at most 5m0s"},
		{"future", h, target, t0.Add(-anp.RelayMaxAge - time.Second), anp.ErrRelayStale, "at most 5m0s"},
		{"unknown key", mustSignRelay(t, nextKey, 9, target, t0), target, t0, anp.ErrRelayUnknownKey, "registry key 9"},
		{"key not yet valid", mustSignRelay(t, nextKey, 1, target, t0), target, t0, anp.ErrRelayKeyValidity, "not valid"},
		{"other body", h, anp.RelayTarget{Domain: sellerDomain, Route: anp.SellerCounter, Body: []byte(`{"a":2}`)}, t0, anp.ErrRelaySignature, "does not verify"},
		{"other route", h, anp.RelayTarget{Domain: sellerDomain, Route: anp.SellerCancel, Body: target.Body}, t0, anp.ErrRelaySignature, "does not verify"},
		{"other seller", h, anp.RelayTarget{Domain: "other-shop.anp", Route: anp.SellerCounter, Body: target.Body}, t0, anp.ErrRelaySignature, "does not verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := anp.VerifyRelay(tc.header, tc.target, tc.now, chainKeyFor(chain))
			if !errors.Is(err, tc.class) || anp.CodeOf(err) != anp.CodeUnauthorized {
				t.Fatalf("VerifyRelay = %v, want %v (unauthorized)", err, tc.class)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
		})
	}
	// Verify refuses an entry of another index even when its key signed.
	a, err := anp.ParseRelayAuth(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(&chain[1], target); !errors.Is(err, anp.ErrRelayUnknownKey) {
		t.Fatalf("Verify with entry 1 for kid 0: %v", err)
	}
	if err := a.Verify(nil, target); !errors.Is(err, anp.ErrRelayUnknownKey) {
		t.Fatalf("Verify without an entry: %v", err)
	}
}

// TestRelayVectorsCheck reads relay.json as another implementation would:
// the chain verifies under root_key, the signing vector's input is the
// documented object with the body's hash, and every case has its outcome.
func TestRelayVectorsCheck(t *testing.T) {
	v := readRelayVector(t)
	if v.Header != "ANP-Relay" || v.MaxAgeMs != 300_000 {
		t.Fatalf("header %q, max age %d", v.Header, v.MaxAgeMs)
	}
	if err := anp.VerifyKeyChain(v.RootKey, v.KeyChain); err != nil {
		t.Fatalf("key chain: %v", err)
	}
	// The signing input by hand: prefix, purpose, JCS of the five members in order.
	valid := v.Cases[0]
	sum := sha256.Sum256([]byte(valid.Body))
	jcs := `{"body_sha256":"` + hex.EncodeToString(sum[:]) + `","domain":"` + valid.Domain + `","kid":0,"route":"` + valid.Route + `","ts":` + strconv.FormatInt(valid.Now, 10) + `}`
	msg := "clinch-anp/1\x00registry/relay\x00" + jcs
	var input bytes.Buffer
	if err := json.Compact(&input, v.Signing.Input); err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString([]byte(msg)) != v.Signing.SigningInputHex || input.String() != jcs {
		t.Fatalf("signing input differs from %q", msg)
	}
	key, _ := hex.DecodeString(v.KeyChain[0].Key)
	sig, _ := hex.DecodeString(v.Signing.Signature)
	if !ed25519.Verify(key, []byte(msg), sig) || valid.Value != "kid=0;ts="+strconv.FormatInt(valid.Now, 10)+";sig="+v.Signing.Signature {
		t.Fatal("the first case is not the signing vector")
	}
	seen := map[string]int{}
	for _, tc := range v.Cases {
		seen[tc.Expect]++
		if got := relayOutcome(verifyRelayCase(tc, v.KeyChain)); got != tc.Expect {
			t.Errorf("%s: %s, want %s", tc.Description, got, tc.Expect)
		}
	}
	for _, name := range []string{"valid", "relay_missing", "relay_format", "relay_stale", "relay_unknown_key", "relay_key_validity", "relay_signature"} {
		if seen[name] == 0 {
			t.Errorf("no case expects %s", name)
		}
	}
}

// FuzzVerifyRelay: any header over any request is refused as unauthorized
// with one of the named failures, unless it is the signature of the vector
// over that very request.
func FuzzVerifyRelay(f *testing.F) {
	v := readRelayVector(f)
	for _, tc := range v.Cases {
		f.Add(tc.Value, tc.Domain, tc.Route, []byte(tc.Body), tc.Now)
	}
	f.Add("kid=;ts=;sig=", "", "", []byte{}, int64(0))
	f.Add(strings.Repeat(";", 300), sellerDomain, "/handshake", []byte("{}"), t0Ms)
	keyFor := chainKeyFor(v.KeyChain)
	classes := []error{anp.ErrRelayMissing, anp.ErrRelayFormat, anp.ErrRelayStale, anp.ErrRelayUnknownKey, anp.ErrRelayKeyValidity, anp.ErrRelaySignature}
	f.Fuzz(func(t *testing.T, header, domain, route string, body []byte, now int64) {
		target := anp.RelayTarget{Domain: domain, Route: route, Body: body}
		a, err := anp.VerifyRelay(header, target, time.UnixMilli(now), keyFor)
		if err != nil {
			named := false
			for _, c := range classes {
				named = named || errors.Is(err, c)
			}
			if !named || anp.CodeOf(err) != anp.CodeUnauthorized {
				t.Fatalf("VerifyRelay(%q) = %v: not a named unauthorized failure", header, err)
			}
			return
		}
		// What verifies is a valid case's header over its own request, in its one form.
		if a.String() != header {
			t.Fatalf("header %q verified but formats as %q", header, a.String())
		}
		for _, tc := range v.Cases {
			if tc.Expect == "valid" && tc.Value == header && tc.Domain == domain && tc.Route == route && tc.Body == string(body) {
				return
			}
		}
		t.Fatalf("header %q verified for a request no vector signed: %s %s", header, domain, route)
	})
}

// readRelayVector reads relay.json.
func readRelayVector(tb testing.TB) relayVector {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, "relay.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var v relayVector
	if err := json.Unmarshal(data, &v); err != nil {
		tb.Fatal(err)
	}
	return v
}
