package anp

import (
	"fmt"
	"net/url"
)

// BindRequest asks the registry to bind a domain to a permanent identity key
// (control plane). Sig is the key's own signature (proof of possession).
type BindRequest struct {
	Domain string `json:"domain"`
	Key    string `json:"key"`
	TS     int64  `json:"ts"`
	Sig    string `json:"sig"`
}

func (b *BindRequest) unsigned() BindRequest { c := *b; c.Sig = ""; return c }

// Verify checks shape and the proof-of-possession signature.
func (b *BindRequest) Verify() error {
	if err := ValidateDomain(b.Domain); err != nil {
		return Errorf(CodeBadRequest, "domain: %v", err)
	}
	if err := Verify(b.Key, PurposeDomainBinding, b.unsigned(), b.Sig); err != nil {
		return Errorf(CodeBadSignature, "bind request for %s: %v", b.Domain, err)
	}
	return nil
}

// SignBindRequest fills Sig.
func SignBindRequest(b *BindRequest, sign func(Purpose, any) (string, error)) error {
	s, err := sign(PurposeDomainBinding, b.unsigned())
	b.Sig = s
	return err
}

// DomainBinding is the registry's signed statement that Domain belongs to Key.
type DomainBinding struct {
	Domain   string `json:"domain"`
	Key      string `json:"key"`
	BoundAt  int64  `json:"bound_at"`
	KeyIndex uint64 `json:"kid"` // registry chain key that signed
	Sig      string `json:"sig"`
}

func (d *DomainBinding) unsigned() DomainBinding { c := *d; c.Sig = ""; return c }

// SignDomainBinding fills Sig with the registry key.
func SignDomainBinding(d *DomainBinding, sign func(Purpose, any) (string, error)) error {
	s, err := sign(PurposeDomainBinding, d.unsigned())
	d.Sig = s
	return err
}

// Verify checks the registry signature using the verified key chain: the
// key at d.KeyIndex must have been valid at d.BoundAt (ErrKeyWindow
// otherwise).
func (d *DomainBinding) Verify(chain []KeyEntry) error { return d.verify(nil, chain) }

func (d *DomainBinding) verify(c *SigCache, chain []KeyEntry) error {
	e, err := chainEntry(chain, d.KeyIndex)
	if err != nil {
		return err
	}
	if err := e.checkWindow("registry binding of "+d.Domain, d.BoundAt); err != nil {
		return err
	}
	if err := verifyWith(c, e.Key, PurposeDomainBinding, d.unsigned(), d.Sig); err != nil {
		return Errorf(CodeBadSignature, "registry binding of %s: %v", d.Domain, err)
	}
	return nil
}

// EndpointRecord is a seller node's self-published routing record (data plane).
type EndpointRecord struct {
	Domain       string   `json:"domain"`
	Endpoint     string   `json:"endpoint"` // base URL of the seller's ANP handler
	Categories   []string `json:"categories"`
	Capabilities []string `json:"capabilities,omitempty"`
	Modes        []Mode   `json:"modes"`
	EncKey       string   `json:"enc_key,omitempty"` // X25519 public key (hex) for blind credentials
	DisplayName  string   `json:"display_name,omitempty"`
	Demo         bool     `json:"demo,omitempty"` // a demo seller: not a real merchant
	Seq          uint64   `json:"seq"`            // strictly increasing per domain
	TS           int64    `json:"ts"`             // unix ms
}

// Validate checks the record's shape (not where the endpoint points).
func (r *EndpointRecord) Validate() error {
	if err := ValidateDomain(r.Domain); err != nil {
		return fmt.Errorf("domain: %w", err)
	}
	if err := checkEndpoint(r.Endpoint); err != nil {
		return err
	}
	if len(r.Categories) == 0 || len(r.Categories) > 16 {
		return fmt.Errorf("categories must have 1 to 16 entries")
	}
	if err := checkTexts("category", r.Categories, 64); err != nil {
		return err
	}
	if err := checkTexts("capability", r.Capabilities, 64); err != nil {
		return err
	}
	if err := checkModes(r.Modes); err != nil {
		return err
	}
	if r.EncKey != "" {
		if _, err := x25519KeyBytes(r.EncKey, "enc_key"); err != nil {
			return err
		}
	}
	if r.Seq == 0 {
		return fmt.Errorf("seq must start at 1")
	}
	return checkText("display_name", r.DisplayName, 100, false)
}

// IsBaseURL reports whether u has the shape of a base URL that a node
// publishes or is configured with: http or https, a host, and no user info,
// query or fragment. It is the rule for an endpoint record's endpoint and for
// a seller's configured registry and endpoint.
func IsBaseURL(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

// checkEndpoint checks that an endpoint record's endpoint is a base URL
// (IsBaseURL).
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint must be an http(s) URL; it does not parse")
	}
	if !IsBaseURL(u) {
		return fmt.Errorf("endpoint %q must be an http(s) URL without credentials, query or fragment", u.Redacted())
	}
	return nil
}

// checkTexts applies checkText to every entry of a list: each is required
// and at most max bytes. field names one entry.
func checkTexts(field string, list []string, max int) error {
	for _, s := range list {
		if err := checkText(field, s, max, true); err != nil {
			return err
		}
	}
	return nil
}

// checkModes checks that modes lists at least one mode and only valid ones.
func checkModes(modes []Mode) error {
	if len(modes) == 0 {
		return fmt.Errorf("modes must list at least one of ANP/A, ANP/B, ANP/C")
	}
	for _, m := range modes {
		if !m.Valid() {
			return fmt.Errorf("mode %q is not valid", m)
		}
	}
	return nil
}

// Supports reports whether the record lists mode m.
func (r *EndpointRecord) Supports(m Mode) bool {
	for _, x := range r.Modes {
		if x == m {
			return true
		}
	}
	return false
}

// SignedRecord is an endpoint record with the seller identity key's signature.
type SignedRecord struct {
	Record EndpointRecord `json:"record"`
	Sig    string         `json:"sig"`
}

// SignRecord signs r with the seller's identity key.
func SignRecord(r EndpointRecord, sign func(Purpose, any) (string, error)) (SignedRecord, error) {
	if err := r.Validate(); err != nil {
		return SignedRecord{}, Errorf(CodeBadRequest, "endpoint record: %v", err)
	}
	s, err := sign(PurposeEndpointRecord, r)
	return SignedRecord{Record: r, Sig: s}, err
}

// Verify checks the record's shape and its signature by key.
func (s *SignedRecord) Verify(key string) error { return s.verify(nil, key) }

func (s *SignedRecord) verify(c *SigCache, key string) error {
	if err := s.Record.Validate(); err != nil {
		return Errorf(CodeBadRequest, "endpoint record: %v", err)
	}
	if err := verifyWith(c, key, PurposeEndpointRecord, s.Record, s.Sig); err != nil {
		return Errorf(CodeBadSignature, "endpoint record of %s: %v", s.Record.Domain, err)
	}
	return nil
}

// Stats are registry-observed figures about a seller (outside any signature).
type Stats struct {
	Deals     uint64  `json:"deals"`
	Sessions  uint64  `json:"sessions"`
	Cancelled uint64  `json:"cancelled"`
	Score     float64 `json:"score"` // the reputation score, 0..100 (Listing.Reputation)
}

// Reputation is a party's score under the registry's reputation formula,
// with the evidence behind it (docs/reputation.md): figures computed from
// the transparency log alone, which anyone can recompute.
type Reputation struct {
	Formula  string             `json:"formula"`
	Score    float64            `json:"score"` // 0..100, 6 decimals; a newcomer has 50
	Evidence ReputationEvidence `json:"evidence"`
}

// ReputationEvidence is what a score rests on: counts over the party's deals.
type ReputationEvidence struct {
	Deals           int   `json:"deals"`            // signed deals as either side
	Completed       int   `json:"completed"`        // deals that earn the party credit
	OnTime          int   `json:"on_time"`          // as seller: delivered by the deadline
	Late            int   `json:"late"`             // as seller: delivered after the deadline
	Awaiting        int   `json:"awaiting"`         // deadlines not yet met, without breach or dispute
	Received        int   `json:"received"`         // as buyer: receipts given
	Breaches        int   `json:"breaches"`         // breaches by the party
	DisputesOpened  int   `json:"disputes_opened"`  // disputes the party filed
	DisputesAgainst int   `json:"disputes_against"` // disputes filed against the party
	DisputesWon     int   `json:"disputes_won"`
	DisputesLost    int   `json:"disputes_lost"`
	DisputesSplit   int   `json:"disputes_split"`
	Counterparties  int   `json:"counterparties"`
	LastActivity    int64 `json:"last_activity"` // unix ms; 0: never
}

// Listing is one discovery result: the registry's binding of the domain and
// the seller's own record. Buyers verify both before they use the endpoint.
type Listing struct {
	Binding DomainBinding `json:"binding"`
	Record  SignedRecord  `json:"record"`
	Stats   Stats         `json:"stats"`
	// Reputation is the seller's reputation when the listing was served.
	Reputation *Reputation `json:"reputation,omitempty"`
}

// Verify checks the registry binding against chain and the record against the bound key.
func (l *Listing) Verify(chain []KeyEntry) error { return l.VerifyWith(nil, chain) }

// VerifyWith is Verify through the party's signature cache.
func (l *Listing) VerifyWith(c *SigCache, chain []KeyEntry) error {
	if err := l.Binding.verify(c, chain); err != nil {
		return err
	}
	if l.Record.Record.Domain != l.Binding.Domain {
		return Errorf(CodeBadSignature, "record for %s is listed under %s", l.Record.Record.Domain, l.Binding.Domain)
	}
	return l.Record.verify(c, l.Binding.Key)
}
