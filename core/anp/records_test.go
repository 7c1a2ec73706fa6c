package anp_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func endpointRecord() anp.EndpointRecord {
	return anp.EndpointRecord{
		Domain: sellerDomain, Endpoint: "https://seller.kitchen-outlet.example/anp",
		Categories: []string{"kitchen", "cookware"}, Capabilities: []string{"async"},
		Modes: []anp.Mode{anp.ModeC, anp.ModeB}, EncKey: strings.Repeat("ab", 32),
		DisplayName: "Kitchen Outlet", Seq: 1735689600000, TS: t0Ms,
	}
}

func TestBindRequest(t *testing.T) {
	b := &anp.BindRequest{Domain: sellerDomain, Key: pub(sellerKey), TS: t0Ms}
	if err := anp.SignBindRequest(b, anp.Signer(sellerKey)); err != nil {
		t.Fatal(err)
	}
	if err := b.Verify(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(b *anp.BindRequest)
		code anp.Code
		msg  string
	}{
		{"other domain", func(b *anp.BindRequest) { b.Domain = "other.anp" }, anp.CodeBadSignature, "bind request for other.anp"},
		{"other key", func(b *anp.BindRequest) { b.Key = pub(strangerKey) }, anp.CodeBadSignature, "does not verify"},
		{"other time", func(b *anp.BindRequest) { b.TS++ }, anp.CodeBadSignature, "does not verify"},
		{"signed by a stranger", func(b *anp.BindRequest) { _ = anp.SignBindRequest(b, anp.Signer(strangerKey)) }, anp.CodeBadSignature, "does not verify"},
		{"bad domain", func(b *anp.BindRequest) { b.Domain = "Kitchen" }, anp.CodeBadRequest, "domain: domain"},
		{"bad key", func(b *anp.BindRequest) { b.Key = "k" }, anp.CodeBadSignature, "public key must be 64 hex characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *b
			tt.edit(&c)
			wantCode(t, c.Verify(), tt.code, tt.msg)
		})
	}
	failing := &anp.BindRequest{Domain: sellerDomain}
	if err := anp.SignBindRequest(failing, func(anp.Purpose, any) (string, error) { return "", fmt.Errorf("no key") }); err == nil {
		t.Fatal("SignBindRequest ignored the signer's error")
	}
}

func fixtureBinding(t *testing.T) anp.DomainBinding {
	t.Helper()
	d := anp.DomainBinding{Domain: sellerDomain, Key: pub(sellerKey), BoundAt: t0Ms, KeyIndex: 0}
	if err := anp.SignDomainBinding(&d, anp.Signer(notaryKey)); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDomainBinding(t *testing.T) {
	chain := buildKeyChain(t, rootKey, notaryKey, nextKey)
	d := fixtureBinding(t)
	if err := d.Verify(chain); err != nil {
		t.Fatal(err)
	}
	// A binding and a bind request share a purpose but not a shape: the
	// registry's signature over a binding is not a seller's bind request.
	req := anp.BindRequest{Domain: d.Domain, Key: d.Key, TS: d.BoundAt, Sig: d.Sig}
	if err := req.Verify(); err == nil {
		t.Fatal("a registry binding signature verified as a bind request")
	}
	tests := []struct {
		name string
		edit func(d *anp.DomainBinding)
		msg  string
	}{
		{"other key bound", func(d *anp.DomainBinding) { d.Key = pub(strangerKey) }, "registry binding of kitchen-outlet.anp"},
		{"other domain", func(d *anp.DomainBinding) { d.Domain = "other.anp" }, "registry binding of other.anp"},
		{"other chain key", func(d *anp.DomainBinding) { d.KeyIndex, d.BoundAt = 1, chain[1].ValidFrom }, "does not verify"},
		{"bound after its key expired", func(d *anp.DomainBinding) {
			d.BoundAt = chain[0].ValidUntil
			_ = anp.SignDomainBinding(d, anp.Signer(notaryKey))
		}, "registry binding of kitchen-outlet.anp is dated 2025-01-01T01:00:00Z, outside registry key 0's validity"},
		{"bound before its key was valid", func(d *anp.DomainBinding) {
			d.KeyIndex, d.BoundAt = 1, chain[1].ValidFrom-1
			_ = anp.SignDomainBinding(d, anp.Signer(nextKey))
		}, "outside registry key 1's validity"},
		{"unknown chain key", func(d *anp.DomainBinding) { d.KeyIndex = 5 }, "registry key 5 is not in the key chain"},
		{"signed by the seller itself", func(d *anp.DomainBinding) { _ = anp.SignDomainBinding(d, anp.Signer(sellerKey)) }, "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := d
			tt.edit(&c)
			err := c.Verify(chain)
			wantCode(t, err, anp.CodeBadSignature, tt.msg)
			if window := strings.Contains(tt.msg, "validity"); errors.Is(err, anp.ErrKeyWindow) != window {
				t.Fatalf("errors.Is(%v, ErrKeyWindow) = %v, want %v", err, !window, window)
			}
		})
	}
}

func TestEndpointRecordValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *anp.EndpointRecord)
		msg  string
	}{
		{"valid", func(r *anp.EndpointRecord) {}, ""},
		{"http with port and no optional fields", func(r *anp.EndpointRecord) {
			r.Endpoint, r.Capabilities, r.EncKey, r.DisplayName = "http://127.0.0.1:8080", nil, "", ""
		}, ""},
		{"bad domain", func(r *anp.EndpointRecord) { r.Domain = "shop" }, "domain: domain \"shop\" needs at least two labels"},
		{"ftp endpoint", func(r *anp.EndpointRecord) { r.Endpoint = "ftp://seller.example/anp" }, "must be an http(s) URL"},
		{"no scheme", func(r *anp.EndpointRecord) { r.Endpoint = "seller.example/anp" }, "must be an http(s) URL"},
		{"no host", func(r *anp.EndpointRecord) { r.Endpoint = "https:///anp" }, "must be an http(s) URL"},
		{"credentials", func(r *anp.EndpointRecord) { r.Endpoint = "https://user:pass@seller.example/anp" }, "without credentials"},
		{"query", func(r *anp.EndpointRecord) { r.Endpoint = "https://seller.example/anp?x=1" }, "query or fragment"},
		{"fragment", func(r *anp.EndpointRecord) { r.Endpoint = "https://seller.example/anp#x" }, "query or fragment"},
		{"unparsable", func(r *anp.EndpointRecord) { r.Endpoint = "http://[::1" }, "must be an http(s) URL"},
		{"no categories", func(r *anp.EndpointRecord) { r.Categories = nil }, "categories must have 1 to 16 entries"},
		{"17 categories", func(r *anp.EndpointRecord) { r.Categories = make([]string, 17) }, "categories must have 1 to 16 entries"},
		{"empty category", func(r *anp.EndpointRecord) { r.Categories = []string{""} }, "category is required"},
		{"control in capability", func(r *anp.EndpointRecord) { r.Capabilities = []string{"a\x02"} }, "capability contains a control character"},
		{"no modes", func(r *anp.EndpointRecord) { r.Modes = nil }, "modes must list at least one"},
		{"bad mode", func(r *anp.EndpointRecord) { r.Modes = []anp.Mode{"ANP/Q"} }, `mode "ANP/Q" is not valid`},
		{"short enc key", func(r *anp.EndpointRecord) { r.EncKey = "abcd" }, "enc_key must be 64 hex characters"},
		{"zero seq", func(r *anp.EndpointRecord) { r.Seq = 0 }, "seq must start at 1"},
		{"long display name", func(r *anp.EndpointRecord) { r.DisplayName = strings.Repeat("n", 101) }, "display_name is 101 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := endpointRecord()
			tt.edit(&r)
			err := r.Validate()
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantMessage(t, err, tt.msg)
			if _, err := anp.SignRecord(r, anp.Signer(sellerKey)); err == nil {
				t.Fatal("SignRecord signed an invalid record")
			} else {
				wantCode(t, err, anp.CodeBadRequest, "endpoint record: ", tt.msg)
			}
		})
	}
}

// A seller may not publish an enc_key that the buyer's sealer would refuse:
// record validation and SealCredential apply the one low-order check, and
// the error names the field.
func TestEndpointRecordRefusesLowOrderEncKey(t *testing.T) {
	good := mustCredentialKey(t, sellerKey).PublicHex()
	lowOrder := []string{
		strings.Repeat("00", 32),                                           // u = 0, order 2
		"01" + strings.Repeat("00", 31),                                    // u = 1, order 4
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
	}
	for _, key := range append([]string{good}, lowOrder...) {
		r := endpointRecord()
		r.EncKey = key
		verr := r.Validate()
		_, serr := anp.SealCredential(key, scopeOf(sessionID, sellerDomain), "ACCT-1")
		if (verr == nil) != (serr == nil) {
			t.Fatalf("enc_key %s: record validation says %v, the sealer says %v", key, verr, serr)
		}
	}
	for _, key := range lowOrder {
		t.Run(key[:8], func(t *testing.T) {
			r := endpointRecord()
			r.EncKey = key
			wantMessage(t, r.Validate(), "enc_key "+key[:12], "low-order point")
			if _, err := anp.SignRecord(r, anp.Signer(sellerKey)); err == nil {
				t.Fatal("SignRecord signed a record with a low-order enc_key")
			}
			// A record signed without SignRecord's check is refused on verification.
			sig, err := anp.Signer(sellerKey)(anp.PurposeEndpointRecord, r)
			if err != nil {
				t.Fatal(err)
			}
			s := anp.SignedRecord{Record: r, Sig: sig}
			wantCode(t, s.Verify(pub(sellerKey)), anp.CodeBadRequest, "endpoint record: enc_key", "low-order")
		})
	}
}

func TestIsBaseURL(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"https://seller.example/anp", true},
		{"http://127.0.0.1:8080", true},
		{"https://seller.example", true},
		{"ftp://seller.example/anp", false},
		{"seller.example/anp", false},
		{"https:///anp", false},
		{"https://user@seller.example/anp", false},
		{"https://seller.example/anp?x=1", false},
		{"https://seller.example/anp?", true}, // an empty query is no query
		{"https://seller.example/anp#x", false},
		{"HTTPS://seller.example/anp", true}, // url.Parse folds the scheme
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := anp.IsBaseURL(u); got != tt.ok {
			t.Errorf("IsBaseURL(%q) = %v, want %v", tt.in, got, tt.ok)
		}
	}
}

func TestEndpointRecordSupports(t *testing.T) {
	r := endpointRecord()
	if !r.Supports(anp.ModeC) || !r.Supports(anp.ModeB) || r.Supports(anp.ModeA) || r.Supports("") {
		t.Fatalf("Supports is wrong for modes %v", r.Modes)
	}
}

func TestSignedRecord(t *testing.T) {
	s, err := anp.SignRecord(endpointRecord(), anp.Signer(sellerKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(pub(sellerKey)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.Verify(pub(strangerKey)), anp.CodeBadSignature, "endpoint record of kitchen-outlet.anp")
	tampered := s
	tampered.Record.Endpoint = "https://attacker.example/anp"
	wantCode(t, tampered.Verify(pub(sellerKey)), anp.CodeBadSignature, "does not verify")
	tampered = s
	tampered.Record.Categories = []string{"kitchen"}
	wantCode(t, tampered.Verify(pub(sellerKey)), anp.CodeBadSignature, "does not verify")
	invalid := s
	invalid.Record.Seq = 0
	wantCode(t, invalid.Verify(pub(sellerKey)), anp.CodeBadRequest, "seq must start at 1")
	if _, err := anp.SignRecord(endpointRecord(), func(anp.Purpose, any) (string, error) { return "", fmt.Errorf("no key") }); err == nil {
		t.Fatal("SignRecord ignored the signer's error")
	}
}

func TestListingVerify(t *testing.T) {
	chain := buildKeyChain(t, rootKey, notaryKey, nextKey)
	rec, err := anp.SignRecord(endpointRecord(), anp.Signer(sellerKey))
	if err != nil {
		t.Fatal(err)
	}
	l := anp.Listing{Binding: fixtureBinding(t), Record: rec, Stats: anp.Stats{Deals: 3, Sessions: 4, Score: 0.66}}
	if err := l.Verify(chain); err != nil {
		t.Fatal(err)
	}
	// Stats are outside every signature.
	l.Stats.Score = 1
	if err := l.Verify(chain); err != nil {
		t.Fatal(err)
	}

	otherRec := endpointRecord()
	otherRec.Domain = "other-shop.anp"
	otherSigned, _ := anp.SignRecord(otherRec, anp.Signer(sellerKey))
	strangerRec, _ := anp.SignRecord(endpointRecord(), anp.Signer(strangerKey))
	badBinding := fixtureBinding(t)
	badBinding.Key = pub(strangerKey)
	tests := []struct {
		name string
		l    anp.Listing
		code anp.Code
		msg  string
	}{
		{"record for another domain", anp.Listing{Binding: fixtureBinding(t), Record: otherSigned}, anp.CodeBadSignature, "record for other-shop.anp is listed under kitchen-outlet.anp"},
		{"record signed by a key that is not bound", anp.Listing{Binding: fixtureBinding(t), Record: strangerRec}, anp.CodeBadSignature, "endpoint record of kitchen-outlet.anp"},
		{"binding altered to the record signer", anp.Listing{Binding: badBinding, Record: strangerRec}, anp.CodeBadSignature, "registry binding of kitchen-outlet.anp"},
		{"binding unknown to the chain", anp.Listing{Binding: fixtureBinding(t), Record: rec}, anp.CodeBadSignature, "registry key chain is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := chain
			if tt.name == "binding unknown to the chain" {
				c = nil
				tt.msg = "registry key 0 is not in the key chain (0 entries)"
			}
			wantCode(t, tt.l.Verify(c), tt.code, tt.msg)
		})
	}
}
