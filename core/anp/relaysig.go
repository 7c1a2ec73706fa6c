package anp

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Relay signatures (docs/protocol.md §12).
//
// The registry signs every buyer request it forwards to a seller, and a
// seller node takes only requests that carry such a signature: a stranger
// who posts envelopes to a seller directly, past the registry's
// authentication and limits, is refused before the seller decodes anything.
// The signature travels in one HTTP header,
//
//	ANP-Relay: kid=<key index>;ts=<unix ms>;sig=<128 hex>
//
// and covers, under the purpose "registry/relay" with the chain key kid,
//
//	{"body_sha256": hex SHA-256 of the exact request body, "domain": seller domain,
//	 "kid": kid, "route": seller route ("/handshake", ...), "ts": ts}
//
// so it is good for one body, at one seller, on one route, for RelayMaxAge
// either side of ts. A replay of the whole request is a replay of its
// envelope, which the envelope's nonce and the seller's transcript refuse.

// PurposeRelay signs a request the registry forwards to a seller.
const PurposeRelay Purpose = "registry/relay"

// RelayHeader is the HTTP header that carries a relay signature.
const RelayHeader = "ANP-Relay"

// Limits of a relay signature.
const (
	// RelayMaxAge is how far ts may be from the seller's clock, either way.
	RelayMaxAge = 5 * time.Minute
	// MaxRelayHeaderLen bounds the header value; the longest valid value is
	// 4+16+4+16+5+128 = 173 bytes.
	MaxRelayHeaderLen = 256
)

// The named failures of a relay signature. Each reaches a peer as
// unauthorized (401).
var (
	ErrRelayMissing     = errors.New("relay signature missing")
	ErrRelayFormat      = errors.New("relay signature malformed")
	ErrRelayStale       = errors.New("relay signature outside its time window")
	ErrRelayUnknownKey  = errors.New("relay signature by an unknown registry key")
	ErrRelayKeyValidity = errors.New("relay signature by a registry key not valid at its time")
	ErrRelaySignature   = errors.New("relay signature does not verify")
)

// RelayAuth is a parsed ANP-Relay header.
type RelayAuth struct {
	KeyIndex uint64 // the registry chain key that signed
	TS       int64  // unix ms of signing
	Sig      string // 128 lower-case hex characters
}

// relayClaims is the signed value.
type relayClaims struct {
	BodySHA256 string `json:"body_sha256"`
	Domain     string `json:"domain"`
	KeyIndex   uint64 `json:"kid"`
	Route      string `json:"route"`
	TS         int64  `json:"ts"`
}

// RelayTarget is what a relay signature is for: the seller domain, the
// seller route and the exact request body.
type RelayTarget struct {
	Domain string
	Route  string
	Body   []byte
}

func (t RelayTarget) claims(kid uint64, ts int64) relayClaims {
	sum := sha256.Sum256(t.Body)
	return relayClaims{BodySHA256: hex.EncodeToString(sum[:]), Domain: t.Domain, KeyIndex: kid, Route: t.Route, TS: ts}
}

// String is the header value: kid=K;ts=T;sig=S.
func (a RelayAuth) String() string {
	return "kid=" + strconv.FormatUint(a.KeyIndex, 10) + ";ts=" + strconv.FormatInt(a.TS, 10) + ";sig=" + a.Sig
}

// SignRelay signs target with the registry chain key key of index kid at
// now and returns the ANP-Relay header value.
func SignRelay(key ed25519.PrivateKey, kid uint64, target RelayTarget, now time.Time) (string, error) {
	ts := now.UnixMilli()
	sig, err := Sign(key, PurposeRelay, target.claims(kid, ts))
	if err != nil {
		return "", err
	}
	return RelayAuth{KeyIndex: kid, TS: ts, Sig: sig}.String(), nil
}

// relayErr is an unauthorized error of one relay failure class.
func relayErr(class error, format string, args ...any) error {
	return Errorf(CodeUnauthorized, "%v", classErr(class, format, args...))
}

// ParseRelayAuth parses an ANP-Relay header value in its one form: exactly
// "kid=" K ";ts=" T ";sig=" S, K and T decimal without sign or leading
// zeros and at most 2^53-1, T above 0, S 128 lower-case hex characters.
// Every failure is unauthorized, ErrRelayMissing for an empty value and
// ErrRelayFormat otherwise.
func ParseRelayAuth(h string) (RelayAuth, error) {
	if h == "" {
		return RelayAuth{}, relayErr(ErrRelayMissing, "the request carries no %s header: sellers take requests only through the registry", RelayHeader)
	}
	if len(h) > MaxRelayHeaderLen {
		return RelayAuth{}, relayErr(ErrRelayFormat, "%s header is %d bytes, at most %d allowed", RelayHeader, len(h), MaxRelayHeaderLen)
	}
	parts := strings.Split(h, ";")
	if len(parts) != 3 {
		return RelayAuth{}, relayErr(ErrRelayFormat, "%s header must be kid=K;ts=T;sig=S", RelayHeader)
	}
	var vals [3]string
	for i, name := range []string{"kid=", "ts=", "sig="} {
		v, ok := strings.CutPrefix(parts[i], name)
		if !ok {
			return RelayAuth{}, relayErr(ErrRelayFormat, "%s header member %d must start with %s", RelayHeader, i+1, name)
		}
		vals[i] = v
	}
	kid, ok := relayUint(vals[0])
	if !ok {
		return RelayAuth{}, relayErr(ErrRelayFormat, "%s kid must be a decimal integer without leading zeros, at most 2^53-1", RelayHeader)
	}
	ts, ok := relayUint(vals[1])
	if !ok || ts == 0 {
		return RelayAuth{}, relayErr(ErrRelayFormat, "%s ts must be unix milliseconds without leading zeros, at most 2^53-1", RelayHeader)
	}
	if err := checkHexLen(vals[2], ed25519.SignatureSize, "signature"); err != nil {
		return RelayAuth{}, relayErr(ErrRelayFormat, "%s sig must be 128 lower-case hex characters", RelayHeader)
	}
	return RelayAuth{KeyIndex: kid, TS: int64(ts), Sig: vals[2]}, nil
}

// relayUint parses 1 to 16 decimal digits without a leading zero (except
// "0" itself) up to 2^53-1.
func relayUint(s string) (uint64, bool) {
	if s == "" || len(s) > 16 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > MaxSafeInteger {
		return 0, false
	}
	return v, true
}

// CheckTime refuses a signature made more than RelayMaxAge before or after
// now (ErrRelayStale).
func (a RelayAuth) CheckTime(now time.Time) error {
	d := time.Duration(now.UnixMilli()-a.TS) * time.Millisecond
	if d > RelayMaxAge || d < -RelayMaxAge {
		return relayErr(ErrRelayStale, "%s was signed at %d, %s from this seller's clock; at most %s is allowed",
			RelayHeader, a.TS, d.Round(time.Second), RelayMaxAge)
	}
	return nil
}

// Verify checks the signature over target with the chain entry of a's key
// index (from a verified key chain): the entry must be that index
// (ErrRelayUnknownKey), valid at a.TS (ErrRelayKeyValidity), and its key
// must have signed target at a.TS (ErrRelaySignature). It does not check the
// time window (CheckTime).
func (a RelayAuth) Verify(entry *KeyEntry, target RelayTarget) error {
	if entry == nil || entry.Index != a.KeyIndex {
		return relayErr(ErrRelayUnknownKey, "%s names registry key %d, which is not in the registry key chain", RelayHeader, a.KeyIndex)
	}
	if !entry.ValidAt(a.TS) {
		return relayErr(ErrRelayKeyValidity, "registry key %d was not valid at %d, when the %s signature says it signed", a.KeyIndex, a.TS, RelayHeader)
	}
	if err := Verify(entry.Key, PurposeRelay, target.claims(a.KeyIndex, a.TS), a.Sig); err != nil {
		return relayErr(ErrRelaySignature, "%s signature does not verify for this request to %s%s", RelayHeader, Truncate(target.Domain, MaxDomainLen), Truncate(target.Route, 32))
	}
	return nil
}

// VerifyRelay parses header, checks its time at now, finds its key with
// keyFor (nil when the chain has no such index) and verifies it over target:
// the whole check a seller makes before it reads a forwarded envelope.
func VerifyRelay(header string, target RelayTarget, now time.Time, keyFor func(kid uint64) *KeyEntry) (RelayAuth, error) {
	a, err := ParseRelayAuth(header)
	if err != nil {
		return RelayAuth{}, err
	}
	if err := a.CheckTime(now); err != nil {
		return RelayAuth{}, err
	}
	if err := a.Verify(keyFor(a.KeyIndex), target); err != nil {
		return RelayAuth{}, err
	}
	return a, nil
}
