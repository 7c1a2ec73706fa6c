package anp

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// Limits of enrolment grants.
const (
	// MaxGrantTTL is the longest an enrolment grant may be valid.
	MaxGrantTTL = 30 * 24 * time.Hour
	// MaxGrantLen bounds the text of a grant.
	MaxGrantLen = 1024
	// grantIDBytes is the size of a grant's random id.
	grantIDBytes = 16
)

// The named failures of enrolment grants; test with errors.Is.
var (
	// ErrGrantFormat: the grant is not base64url(JCS(claims)) "." signature,
	// or its claims are malformed (domain, id, times).
	ErrGrantFormat = errors.New("malformed enrolment grant")
	// ErrGrantSignature: the registry root key did not sign the grant.
	ErrGrantSignature = errors.New("enrolment grant signature does not verify")
	// ErrGrantDomain: the grant is for another domain.
	ErrGrantDomain = errors.New("enrolment grant is for another domain")
	// ErrGrantExpired: the grant is used outside [iat − clock skew, exp).
	ErrGrantExpired = errors.New("enrolment grant is outside its validity")
)

// GrantClaims are the contents of an enrolment grant: the registry
// operator's permission, signed with the registry root key, to bind one
// domain once before Exp.
type GrantClaims struct {
	Domain string `json:"domain"`
	ID     string `json:"id"`  // 32 lower-case hex characters, random; single use
	Iat    int64  `json:"iat"` // unix ms
	Exp    int64  `json:"exp"` // unix ms, exclusive
}

// NewGrantClaims returns the claims of a grant for domain, valid from now
// for ttl, with a fresh random id.
func NewGrantClaims(domain string, now time.Time, ttl time.Duration) (GrantClaims, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return GrantClaims{}, Errorf(CodeBadRequest, "grant domain: %v", err)
	}
	id := make([]byte, grantIDBytes)
	if _, err := rand.Read(id); err != nil {
		return GrantClaims{}, err
	}
	c := GrantClaims{Domain: d, ID: hex.EncodeToString(id), Iat: now.UnixMilli(), Exp: now.Add(ttl).UnixMilli()}
	if err := c.validate(); err != nil {
		return GrantClaims{}, Errorf(CodeBadRequest, "%v", err)
	}
	return c, nil
}

// validate checks the claims' shape.
func (c *GrantClaims) validate() error {
	if err := ValidateDomain(c.Domain); err != nil {
		return classErr(ErrGrantFormat, "grant domain: %v", err)
	}
	if err := checkHexLen(c.ID, grantIDBytes, "grant id"); err != nil {
		return classErr(ErrGrantFormat, "%v", err)
	}
	if c.Iat <= 0 || c.Exp <= c.Iat {
		return classErr(ErrGrantFormat, "grant times: exp must be after iat, and iat positive")
	}
	if c.Exp-c.Iat > MaxGrantTTL.Milliseconds() {
		return classErr(ErrGrantFormat, "grant is valid for longer than %s", MaxGrantTTL)
	}
	return nil
}

// IssueGrant signs claims with sign (the registry root key, purpose
// registry/enrolment-grant) and returns the grant text
// base64url(JCS(claims)) "." hex(signature).
func IssueGrant(c GrantClaims, sign func(Purpose, any) (string, error)) (string, error) {
	if err := c.validate(); err != nil {
		return "", Errorf(CodeBadRequest, "%v", err)
	}
	body, err := Canonical(c)
	if err != nil {
		return "", err
	}
	sig, err := sign(PurposeGrant, c)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(body) + "." + sig, nil
}

// DecodeGrant reads the claims of a grant and checks its signature by the
// registry root key rootKey, without checking domain or time. Failures are
// unauthorized: ErrGrantFormat for text that is not a grant (or claims that
// do not decode strictly, wrapping the decoder's named failure),
// ErrGrantSignature for a signature that does not verify.
func DecodeGrant(grant, rootKey string) (*GrantClaims, error) {
	if len(grant) > MaxGrantLen {
		return nil, Errorf(CodeUnauthorized, "%v", classErr(ErrGrantFormat, "enrolment grant is longer than %d bytes", MaxGrantLen))
	}
	body, sig, ok := strings.Cut(grant, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, Errorf(CodeUnauthorized, "%v", classErr(ErrGrantFormat, "enrolment grant is not claims \".\" signature"))
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, Errorf(CodeUnauthorized, "%v", classErr(ErrGrantFormat, "enrolment grant claims are not base64url without padding"))
	}
	var c GrantClaims
	if err := DecodeStrict(raw, &c); err != nil {
		return nil, Errorf(CodeUnauthorized, "enrolment grant claims: %v", err)
	}
	if err := c.validate(); err != nil {
		return nil, Errorf(CodeUnauthorized, "%v", err)
	}
	if err := Verify(rootKey, PurposeGrant, c, sig); err != nil {
		return nil, Errorf(CodeUnauthorized, "%v", classErr(ErrGrantSignature, "enrolment grant for %s is not signed by the registry root key: %v", c.Domain, err))
	}
	return &c, nil
}

// ParseGrant decodes and verifies a grant (DecodeGrant) and checks that it
// is for domain and valid at now: iat − MaxClockSkew ≤ now < exp. A grant
// for another domain is forbidden (ErrGrantDomain), one outside its window
// expired (ErrGrantExpired).
func ParseGrant(grant, rootKey, domain string, now time.Time) (*GrantClaims, error) {
	c, err := DecodeGrant(grant, rootKey)
	if err != nil {
		return nil, err
	}
	if c.Domain != domain {
		return nil, Errorf(CodeForbidden, "%v", classErr(ErrGrantDomain, "the enrolment grant is for %s, not %s", c.Domain, domain))
	}
	ms := now.UnixMilli()
	if ms >= c.Exp {
		return nil, Errorf(CodeExpired, "%v", classErr(ErrGrantExpired, "the enrolment grant for %s expired at %s", c.Domain, time.UnixMilli(c.Exp).UTC().Format(time.RFC3339)))
	}
	if ms < c.Iat-MaxClockSkew.Milliseconds() {
		return nil, Errorf(CodeExpired, "%v", classErr(ErrGrantExpired, "the enrolment grant for %s is not valid before %s", c.Domain, time.UnixMilli(c.Iat).UTC().Format(time.RFC3339)))
	}
	return c, nil
}
