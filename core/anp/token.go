package anp

import (
	"encoding/base64"
	"strings"
	"time"
)

// TokenClaims are the contents of a registry access token.
type TokenClaims struct {
	Sub      string `json:"sub"` // hex identity key the token is bound to
	Iat      int64  `json:"iat"` // unix ms
	Exp      int64  `json:"exp"` // unix ms
	KeyIndex uint64 `json:"kid"` // registry chain key that signed it
	ID       string `json:"jti"` // random id
}

// IssueToken encodes claims as base64url(JCS(claims)) "." hex(signature).
func IssueToken(c TokenClaims, sign func(Purpose, any) (string, error)) (string, error) {
	body, err := Canonical(c)
	if err != nil {
		return "", err
	}
	sig, err := sign(PurposeToken, c)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(body) + "." + sig, nil
}

// CheckKeyWindow refuses claims issued (iat) outside the validity window of
// e, the chain key that signed them, with ErrKeyWindow and the code
// unauthorized: a retired key must not mint tokens dated after it retired,
// nor a new key tokens dated before it existed. Verifiers call it after
// ParseToken with the key chain entry of c.KeyIndex.
func (c *TokenClaims) CheckKeyWindow(e *KeyEntry) error {
	if e.Index != c.KeyIndex {
		return Errorf(CodeUnauthorized, "token was signed by registry key %d, not key %d", c.KeyIndex, e.Index)
	}
	if err := e.checkWindow("token", c.Iat); err != nil {
		return Errorf(CodeUnauthorized, "%v", err)
	}
	return nil
}

// ParseTokenInChain is ParseToken with the keys of chain, a verified
// registry key chain, followed by CheckKeyWindow: what an offline verifier
// of a token checks.
func ParseTokenInChain(tok string, now time.Time, chain []KeyEntry) (*TokenClaims, error) {
	c, err := ParseToken(tok, now, func(kid uint64) (string, bool) {
		if kid >= uint64(len(chain)) {
			return "", false
		}
		return chain[kid].Key, true
	})
	if err != nil {
		return nil, err
	}
	if err := c.CheckKeyWindow(&chain[c.KeyIndex]); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseToken decodes a token and verifies it with keyFor(kid) at now.
func ParseToken(tok string, now time.Time, keyFor func(kid uint64) (string, bool)) (*TokenClaims, error) {
	return ParseTokenWith(nil, tok, now, keyFor)
}

// ParseTokenWith is ParseToken through the verifier's signature cache: a
// token presented again is decoded and checked again, its signature is
// not verified again.
func ParseTokenWith(sc *SigCache, tok string, now time.Time, keyFor func(kid uint64) (string, bool)) (*TokenClaims, error) {
	if len(tok) > 1024 {
		return nil, Errorf(CodeUnauthorized, "token is too long")
	}
	body, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, Errorf(CodeUnauthorized, "token is malformed")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, Errorf(CodeUnauthorized, "token is malformed: %v", err)
	}
	var c TokenClaims
	if err := DecodeStrict(raw, &c); err != nil {
		return nil, Errorf(CodeUnauthorized, "token claims: %v", err)
	}
	key, ok := keyFor(c.KeyIndex)
	if !ok {
		return nil, Errorf(CodeUnauthorized, "token was signed by an unknown registry key %d", c.KeyIndex)
	}
	if err := verifyWith(sc, key, PurposeToken, c, sig); err != nil {
		return nil, Errorf(CodeUnauthorized, "token signature does not verify")
	}
	if now.UnixMilli() >= c.Exp {
		return nil, Errorf(CodeUnauthorized, "token expired at %s", time.UnixMilli(c.Exp).UTC().Format(time.RFC3339))
	}
	return &c, nil
}
