package anp_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// relayVector is relay.json: the registry's signature over a request it
// forwards to a seller (protocol §12), and headers a seller must refuse.
type relayVector struct {
	Description string           `json:"description"`
	Header      string           `json:"header"`
	MaxAgeMs    int64            `json:"max_age_ms"`
	RootKey     string           `json:"root_key"`
	KeyChain    []anp.KeyEntry   `json:"key_chain"`
	Signing     sigVector        `json:"signing"`
	Cases       []relayCaseEntry `json:"cases"`
}

// relayCaseEntry is one request as a seller receives it: the header value,
// its own domain, the route it was posted to, the exact body and its clock.
type relayCaseEntry struct {
	Description string `json:"description"`
	Value       string `json:"value"`
	Domain      string `json:"domain"`
	Route       string `json:"route"`
	Body        string `json:"body"`
	Now         int64  `json:"now"`
	Expect      string `json:"expect"` // valid, relay_missing, relay_format, relay_stale, relay_unknown_key, relay_key_validity, relay_signature
}

// relayClaimsMap is the signed value written out by hand: the vector's
// signature must verify over exactly these members.
func relayClaimsMap(body []byte, domain, route string, kid uint64, ts int64) map[string]any {
	sum := sha256.Sum256(body)
	return map[string]any{"body_sha256": hex.EncodeToString(sum[:]), "domain": domain, "kid": kid, "route": route, "ts": ts}
}

func mustSignRelay(tb testing.TB, key ed25519.PrivateKey, kid uint64, target anp.RelayTarget, at time.Time) string {
	tb.Helper()
	h, err := anp.SignRelay(key, kid, target, at)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// relayOutcome names the failure of VerifyRelay as the vectors do.
func relayOutcome(err error) string {
	for name, class := range map[string]error{
		"relay_missing": anp.ErrRelayMissing, "relay_format": anp.ErrRelayFormat, "relay_stale": anp.ErrRelayStale,
		"relay_unknown_key": anp.ErrRelayUnknownKey, "relay_key_validity": anp.ErrRelayKeyValidity, "relay_signature": anp.ErrRelaySignature,
	} {
		if errors.Is(err, class) {
			return name
		}
	}
	if err == nil {
		return "valid"
	}
	return "error: " + err.Error()
}

func buildRelayVector(tb testing.TB) relayVector {
	tb.Helper()
	chain := buildKeyChain(tb, rootKey, notaryKey, nextKey)
	body := mustJSON(tb, buildNegotiation(tb).Propose) // the bytes the registry forwards
	target := anp.RelayTarget{Domain: sellerDomain, Route: anp.SellerHandshake, Body: body}
	header := mustSignRelay(tb, notaryKey, 0, target, t0)
	_, sig, _ := strings.Cut(header, ";sig=")
	hour := t0.Add(time.Hour) // chain key 1 is valid, chain key 0 no longer
	overlap := t0.Add(58 * time.Minute)
	other := buildNegotiation(tb).BuyerCounter
	maxAge := anp.RelayMaxAge.Milliseconds()
	c := func(desc, value string, now int64, expect string) relayCaseEntry {
		return relayCaseEntry{Description: desc, Value: value, Domain: sellerDomain, Route: anp.SellerHandshake, Body: string(body), Now: now, Expect: expect}
	}
	withTarget := func(e relayCaseEntry, domain, route string, b []byte) relayCaseEntry {
		e.Domain, e.Route, e.Body = domain, route, string(b)
		return e
	}
	tokenSig, err := anp.Sign(notaryKey, anp.PurposeToken, relayClaimsMap(body, sellerDomain, anp.SellerHandshake, 0, t0Ms))
	if err != nil {
		tb.Fatal(err)
	}
	v := relayVector{
		Description: "Relay signature (protocol section 12): the registry signs every request it forwards to a seller with its chain key kid, " +
			"purpose registry/relay, over {body_sha256: SHA-256 of the exact body, domain, kid, route, ts}, and sends " +
			"kid=K;ts=T;sig=S in the ANP-Relay header. A seller verifies it against the registry key chain (pinned by root_key) before it decodes the body: " +
			"each case is a request (header value, the seller's domain, the route it arrived on, the body, the seller's clock now) and its expected outcome.",
		Header:   anp.RelayHeader,
		MaxAgeMs: maxAge,
		RootKey:  pub(rootKey),
		KeyChain: chain,
		Signing: newSigVector(tb, "registry chain key 0 signs the PROPOSE it forwards to kitchen-outlet.anp/handshake at t0", anp.PurposeRelay, notaryKey,
			relayClaimsMap(body, sellerDomain, anp.SellerHandshake, 0, t0Ms), sig, nil, false),
		Cases: []relayCaseEntry{
			c("signed at t0, received at t0", header, t0Ms, "valid"),
			c("received max_age_ms after signing", header, t0Ms+maxAge, "valid"),
			c("received max_age_ms before signing (registry clock ahead)", header, t0Ms-maxAge, "valid"),
			c("signed by chain key 1 within its validity", mustSignRelay(tb, nextKey, 1, target, hour), hour.UnixMilli(), "valid"),
			c("no header", "", t0Ms, "relay_missing"),
			c("upper-case signature", strings.ToUpper(header), t0Ms, "relay_format"),
			c("kid with a leading zero", strings.Replace(header, "kid=0;", "kid=00;", 1), t0Ms, "relay_format"),
			c("space after a separator", strings.Replace(header, ";ts=", "; ts=", 1), t0Ms, "relay_format"),
			c("members in another order", "ts="+itoa(t0Ms)+";kid=0;sig="+sig, t0Ms, "relay_format"),
			c("an extra member", header+";v=1", t0Ms, "relay_format"),
			c("ts of zero", "kid=0;ts=0;sig="+sig, t0Ms, "relay_format"),
			c("kid of 2^53", "kid=9007199254740992;ts="+itoa(t0Ms)+";sig="+sig, t0Ms, "relay_format"),
			c("signature one byte short", strings.TrimSuffix(header, sig[126:]), t0Ms, "relay_format"),
			c("longer than 256 bytes", header+strings.Repeat("0", 100), t0Ms, "relay_format"),
			c("received 1 ms too late", header, t0Ms+maxAge+1, "relay_stale"),
			c("received 1 ms too early", header, t0Ms-maxAge-1, "relay_stale"),
			c("kid not in the chain", mustSignRelay(tb, strangerKey, 2, target, t0), t0Ms, "relay_unknown_key"),
			c("chain key 1 before its valid_from", mustSignRelay(tb, nextKey, 1, target, t0), t0Ms, "relay_key_validity"),
			c("chain key 0 after its valid_until", mustSignRelay(tb, notaryKey, 0, target, hour), hour.UnixMilli(), "relay_key_validity"),
			withTarget(c("the signature reused for another envelope", header, t0Ms, "relay_signature"), sellerDomain, anp.SellerHandshake, mustJSON(tb, other)),
			withTarget(c("the body with one more space", header, t0Ms, "relay_signature"), sellerDomain, anp.SellerHandshake, append(body, ' ')),
			withTarget(c("received on another route", header, t0Ms, "relay_signature"), sellerDomain, anp.SellerCounter, body),
			withTarget(c("received by another seller", header, t0Ms, "relay_signature"), "other-shop.anp", anp.SellerHandshake, body),
			c("kid 0 named, signed by chain key 1 (both valid)", strings.Replace(mustSignRelay(tb, nextKey, 1, target, overlap), "kid=1;", "kid=0;", 1), overlap.UnixMilli(), "relay_signature"),
			c("a signature for purpose registry/token over the same value", "kid=0;ts="+itoa(t0Ms)+";sig="+tokenSig, t0Ms, "relay_signature"),
			c("signed by a stranger under kid 0", mustSignRelay(tb, strangerKey, 0, target, t0), t0Ms, "relay_signature"),
		},
	}
	for _, tc := range v.Cases {
		if got := relayOutcome(verifyRelayCase(tc, chain)); got != tc.Expect {
			tb.Fatalf("relay vector %q: %s, want %s", tc.Description, got, tc.Expect)
		}
	}
	return v
}

// verifyRelayCase runs one case through anp.VerifyRelay with chain.
func verifyRelayCase(tc relayCaseEntry, chain []anp.KeyEntry) error {
	target := anp.RelayTarget{Domain: tc.Domain, Route: tc.Route, Body: []byte(tc.Body)}
	_, err := anp.VerifyRelay(tc.Value, target, time.UnixMilli(tc.Now), chainKeyFor(chain))
	return err
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }
