package registry

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func signedBind(t *testing.T, key ed25519.PrivateKey, domain string, ts time.Time) anp.BindRequest {
	t.Helper()
	req := anp.BindRequest{Domain: domain, Key: anptest.PubHex(key), TS: ts.UnixMilli()}
	if err := anp.SignBindRequest(&req, anp.Signer(key)); err != nil {
		t.Fatal(err)
	}
	return req
}

// grantAt is an enrolment grant for domain issued at with ttl, signed by
// the registry's root key.
func (e *testEnv) grantAt(domain string, at time.Time, ttl time.Duration) string {
	e.t.Helper()
	c, err := anp.NewGrantClaims(domain, at, ttl)
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := anp.IssueGrant(c, anp.Signer(e.root))
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// grant is an enrolment grant for domain, valid for an hour from now.
func (e *testEnv) grant(domain string) string { return e.grantAt(domain, e.clock.Now(), time.Hour) }

// TestDomainBindingRules: binding a domain needs an enrolment grant for
// exactly that domain, signed by the registry's root key, unexpired and
// unused; an operator-style shared secret binds nothing; the same key again
// needs no grant, another key is a conflict.
func TestDomainBindingRules(t *testing.T) {
	e := newEnv(t, nil)
	owner, rival := anptest.NewKey(t), anptest.NewKey(t)
	now := e.clock.Now()
	forged, err := anp.IssueGrant(func() anp.GrantClaims { c, _ := anp.NewGrantClaims("shop.anp", now, time.Hour); return c }(), anp.Signer(anptest.NewKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	grant := bearerHeader(e.grant("shop.anp"))

	tests := []struct {
		name    string
		req     anp.BindRequest
		headers map[string]string
		status  int
		code    anp.Code
		class   error
	}{
		{"no grant", signedBind(t, owner, "shop.anp", now), nil, http.StatusUnauthorized, anp.CodeUnauthorized, nil},
		{"operator token alone", signedBind(t, owner, "shop.anp", now), bearerHeader("operator-secret-for-tests"), http.StatusUnauthorized, anp.CodeUnauthorized, anp.ErrGrantFormat},
		{"grant for another domain", signedBind(t, owner, "shop.anp", now), bearerHeader(e.grant("other.anp")), http.StatusForbidden, anp.CodeForbidden, anp.ErrGrantDomain},
		{"expired grant", signedBind(t, owner, "shop.anp", now), bearerHeader(e.grantAt("shop.anp", now.Add(-2*time.Hour), time.Hour)), http.StatusGone, anp.CodeExpired, anp.ErrGrantExpired},
		{"grant not signed by the root key", signedBind(t, owner, "shop.anp", now), bearerHeader(forged), http.StatusUnauthorized, anp.CodeUnauthorized, anp.ErrGrantSignature},
		{"stale request", signedBind(t, owner, "shop.anp", now.Add(-6*time.Minute)), grant, http.StatusGone, anp.CodeExpired, nil},
		{"bad signature", func() anp.BindRequest {
			r := signedBind(t, owner, "shop.anp", now)
			r.Key = anptest.PubHex(rival)
			return r
		}(), grant, http.StatusUnauthorized, anp.CodeBadSignature, nil},
		{"bad domain", signedBind(t, owner, "Shop..anp", now), grant, http.StatusBadRequest, anp.CodeBadRequest, nil},
		{"first binding", signedBind(t, owner, "shop.anp", now), grant, http.StatusCreated, "", nil},
		{"same key again, no grant", signedBind(t, owner, "shop.anp", now), nil, http.StatusOK, "", nil},
		{"another key", signedBind(t, rival, "shop.anp", now), bearerHeader(e.grant("shop.anp")), http.StatusConflict, anp.CodeConflict, nil},
	}
	var first anp.DomainBinding
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, anp.RouteDomains, tc.req, tc.headers)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Fatalf("HTTP %d code %q (%s), want %d %q", r.status, r.errCode(), r.body, tc.status, tc.code)
			}
			if tc.class != nil { // the refusal's class, as the registry's parser names it
				if _, err := anp.ParseGrant(tc.headers["Authorization"][len("Bearer "):], e.srv.RootKey(), "shop.anp", e.clock.Now()); !errors.Is(err, tc.class) {
					t.Fatalf("ParseGrant: %v, want %v", err, tc.class)
				}
			}
			if tc.code != "" {
				return
			}
			var b anp.DomainBinding
			if err := json.Unmarshal(r.body, &b); err != nil {
				t.Fatal(err)
			}
			if err := b.Verify(e.srv.keys.chain()); err != nil || b.Key != anptest.PubHex(owner) || b.Domain != "shop.anp" {
				t.Fatalf("binding %+v does not verify for the owner: %v", b, err)
			}
			if first.Sig == "" {
				first = b
			} else if b != first {
				t.Fatalf("repeated binding %+v differs from the first %+v", b, first)
			}
		})
	}
	r := e.do(http.MethodGet, "/v1/domains/SHOP.anp", nil, nil)
	var got anp.DomainBinding
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got != first {
		t.Fatalf("GET binding: HTTP %d %s", r.status, r.body)
	}
	if r := e.do(http.MethodGet, "/v1/domains/other.anp", nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("GET unknown binding: HTTP %d, want 404", r.status)
	}
}

// TestGrantIsSingleUse: a grant that bound its domain once is refused
// (replay) when presented again, even for the same domain after its key
// was revoked; a stale request does not spend the grant.
func TestGrantIsSingleUse(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	owner := anptest.NewKey(t)
	g := e.grant("shop.anp")
	stale := signedBind(t, owner, "shop.anp", e.clock.Now().Add(-6*time.Minute))
	if r := e.do(http.MethodPost, anp.RouteDomains, stale, bearerHeader(g)); r.status != http.StatusGone {
		t.Fatalf("stale request: HTTP %d, want 410", r.status)
	}
	c := e.client(owner)
	if _, err := c.Bind(ctx, "shop.anp", g); err != nil {
		t.Fatalf("the grant is not spent by a refused request: %v", err)
	}
	if _, err := c.RevokeKey(ctx, "shop.anp"); err != nil {
		t.Fatal(err)
	}
	next := e.client(anptest.NewKey(t))
	_, err := next.Bind(ctx, "shop.anp", g)
	if anp.CodeOf(err) != anp.CodeReplay || !strings.Contains(err.Error(), ErrGrantUsed.Error()) {
		t.Fatalf("the same grant again: %v, want replay (%v)", err, ErrGrantUsed)
	}
	if _, err := next.Bind(ctx, "shop.anp", e.grant("shop.anp")); err != nil {
		t.Fatalf("a fresh grant after the revocation: %v", err)
	}
}

func TestOpenEnrollmentAndClosedRegistry(t *testing.T) {
	open := newEnv(t, func(c *Config) { c.OpenEnrollment = true })
	b, err := open.client(anptest.NewKey(t)).Bind(context.Background(), "demo.anp", "")
	if err != nil || b.Domain != "demo.anp" {
		t.Fatalf("open enrollment bind: %+v %v", b, err)
	}
	closed := newEnv(t, nil)
	_, err = closed.client(anptest.NewKey(t)).Bind(context.Background(), "demo.anp", "anything")
	if anp.CodeOf(err) != anp.CodeUnauthorized || !strings.Contains(err.Error(), "enrolment grant") {
		t.Fatalf("bind with a token that is no grant: %v, want unauthorized naming the enrolment grant", err)
	}
}

func TestEndpointRecordRules(t *testing.T) {
	e := newEnv(t, nil)
	seller := anptest.NewKey(t)
	c := e.client(seller)
	ctx := context.Background()
	if _, err := c.Bind(ctx, "shop.anp", e.grant("shop.anp")); err != nil {
		t.Fatal(err)
	}
	record := func(seq uint64, ts time.Time) anp.EndpointRecord {
		return anp.EndpointRecord{Domain: "shop.anp", Endpoint: "http://127.0.0.1:9/anp", Categories: []string{"kitchen"},
			Modes: []anp.Mode{anp.ModeC}, Seq: seq, TS: ts.UnixMilli()}
	}
	sign := func(r anp.EndpointRecord, key ed25519.PrivateKey) anp.SignedRecord {
		sr, err := anp.SignRecord(r, anp.Signer(key))
		if err != nil {
			t.Fatal(err)
		}
		return sr
	}
	unbound := record(1, e.clock.Now())
	unbound.Domain = "nobody.anp"
	tests := []struct {
		name string
		rec  anp.SignedRecord
		code anp.Code
	}{
		{"seq 1", sign(record(1, e.clock.Now()), seller), ""},
		{"seq 1 again", sign(record(1, e.clock.Now()), seller), anp.CodeReplay},
		{"seq 3", sign(record(3, e.clock.Now()), seller), ""},
		{"seq 2 after 3", sign(record(2, e.clock.Now()), seller), anp.CodeReplay},
		{"signed by another key", sign(record(4, e.clock.Now()), anptest.NewKey(t)), anp.CodeBadSignature},
		{"unbound domain", sign(unbound, seller), anp.CodeNotFound},
		{"stale", sign(record(5, e.clock.Now().Add(-10*time.Minute)), seller), anp.CodeExpired},
		{"from the future", sign(record(5, e.clock.Now().Add(10*time.Minute)), seller), anp.CodeExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := c.PublishRecord(ctx, tc.rec)
			if anp.CodeOf(err) != tc.code {
				t.Fatalf("PublishRecord: %v, want code %q", err, tc.code)
			}
			if tc.code == "" && l.Record.Record.Seq != tc.rec.Record.Seq {
				t.Fatalf("listing has seq %d, want %d", l.Record.Record.Seq, tc.rec.Record.Seq)
			}
		})
	}
	l, err := c.Listing(ctx, "shop.anp")
	if err != nil || l.Record.Record.Seq != 3 {
		t.Fatalf("stored record: %+v %v, want seq 3", l, err)
	}
}

func TestDiscoverFiltersRanksAndVerifies(t *testing.T) {
	e := newEnv(t, nil)
	e.addSeller("alpha.anp", "Kitchen", "garden")
	bravo := e.addSeller("bravo.anp", "kitchen")
	e.addSeller("charlie.anp", "books")
	ctx := context.Background()
	c := e.client(anptest.NewKey(t))
	// bravo closed a deal and delivered it on time, logged: its reputation
	// ranks it above alpha.
	deal := signDeal(t, e, bravo, "bravo.anp")
	deal.fulfil(t, e)
	names := func(ls []anp.Listing) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Binding.Domain)
		}
		return out
	}
	tests := []struct {
		category string
		mode     anp.Mode
		limit    int
		want     []string
	}{
		{"kitchen", "", 0, []string{"bravo.anp", "alpha.anp"}},
		{"KITCHEN", anp.ModeC, 0, []string{"bravo.anp", "alpha.anp"}},
		{"kitchen", anp.ModeB, 0, nil},
		{"", "", 0, []string{"bravo.anp", "alpha.anp", "charlie.anp"}},
		{"", "", 1, []string{"bravo.anp"}},
		{"kitch", "", 0, nil},
	}
	for _, tc := range tests {
		got, err := c.Discover(ctx, tc.category, tc.mode, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if g := names(got); !slices.Equal(g, tc.want) {
			t.Errorf("Discover(%q, %q, %d) = %v, want %v", tc.category, tc.mode, tc.limit, g, tc.want)
		}
	}
	got, _ := c.Discover(ctx, "kitchen", "", 0)
	if want := oneDealScore(deal.artifact.Terms.Price); got[0].Stats.Score != want || got[1].Stats.Score != 50 {
		t.Errorf("scores %v and %v, want %v and 50", got[0].Stats.Score, got[1].Stats.Score, want)
	}
	if r := got[0].Reputation; r == nil || r.Score != got[0].Stats.Score || r.Evidence.Deals != 1 || r.Evidence.Completed != 1 {
		t.Errorf("bravo's listing shows reputation %+v, want its score and one completed deal", r)
	}

	// A record altered after its seller signed it is dropped by the client.
	e.srv.directory.mu.Lock()
	r := e.srv.directory.records["alpha.anp"]
	r.Record.DisplayName = "Injected"
	e.srv.directory.records["alpha.anp"] = r
	e.srv.directory.mu.Unlock()
	got, err := c.Discover(ctx, "kitchen", "", 0)
	if err != nil || !slices.Equal(names(got), []string{"bravo.anp"}) {
		t.Fatalf("Discover with a tampered listing: %v %v, want only bravo.anp", names(got), err)
	}
	if _, err := c.Listing(ctx, "alpha.anp"); anp.CodeOf(err) != anp.CodeBadSignature {
		t.Fatalf("Listing of a tampered record: %v, want bad_signature", err)
	}

	tok := e.token(anptest.NewKey(t))
	for _, q := range []string{"?limit=0", "?limit=x", "?mode=ANP/Z"} {
		if r := e.do(http.MethodGet, anp.RouteDiscover+q, nil, bearerHeader(tok)); r.status != http.StatusBadRequest {
			t.Errorf("discover%s: HTTP %d, want 400", q, r.status)
		}
	}
	if r := e.do(http.MethodGet, anp.RouteDiscover+"?limit=1000", nil, bearerHeader(tok)); r.status != http.StatusOK {
		t.Errorf("discover with a large limit: HTTP %d, want 200 (clamped)", r.status)
	}
}
