package buyer_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

func TestRefusalsChangeNothing(t *testing.T) {
	m := startMarket(t, threeSellers())
	rec := &recorder{next: http.DefaultTransport}
	c := newCore(t, m, coreOpts{transport: rec})
	ctx := ctxT(t)
	s, err := c.ProposeDeal(ctx, "ANP/C.chef-supply.anp", buyer.Constraints{Item: "Knife set", MaxBudget: anptest.USD(9000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		do   func() error
		want error
	}{
		{"counter above max_budget", func() error { _, err := c.Counter(ctx, s.ID, anptest.USD(9001), ""); return err }, buyer.ErrOverBudget},
		{"counter in another currency", func() error {
			_, err := c.Counter(ctx, s.ID, anp.Money{Amount: 5000, Currency: "EUR"}, "")
			return err
		}, buyer.ErrInvalidInput},
		{"counter of zero", func() error { _, err := c.Counter(ctx, s.ID, anptest.USD(0), ""); return err }, buyer.ErrInvalidInput},
		{"approve outside CONFIRMED", func() error { _, err := c.ApproveAndSign(ctx, s.ID); return err }, buyer.ErrBadState},
		{"unknown session", func() error { _, err := c.Counter(ctx, anp.NewSessionID(), anptest.USD(100), ""); return err }, buyer.ErrNotFound},
		{"malformed session id", func() error { _, err := c.GetSession(ctx, "../etc"); return err }, buyer.ErrInvalidInput},
		{"mode the seller does not support", func() error {
			_, err := c.ProposeDeal(ctx, "ANP/A.chef-supply.anp", buyer.Constraints{Item: "x", MaxBudget: anptest.USD(100)}, buyer.ProposeOptions{})
			return err
		}, buyer.ErrRefused},
		{"opening offer above budget", func() error {
			o := anptest.USD(200)
			_, err := c.ProposeDeal(ctx, "ANP/C.chef-supply.anp", buyer.Constraints{Item: "x", MaxBudget: anptest.USD(100)}, buyer.ProposeOptions{Opening: &o})
			return err
		}, buyer.ErrOverBudget},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.bytes())
			snap, _ := c.GetSession(ctx, s.ID)
			err := tc.do()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if sent := rec.bytes()[before:]; bytes.Contains(sent, []byte("POST")) {
				t.Errorf("refused move still sent a request:\n%s", sent)
			}
			after, _ := c.GetSession(ctx, s.ID)
			if after.Version != snap.Version || after.State != snap.State || after.TranscriptLen != snap.TranscriptLen {
				t.Errorf("session changed: %+v -> %+v", snap, after)
			}
		})
	}
	// Offers never go down.
	if _, err := c.Counter(ctx, s.ID, anptest.USD(6000), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Counter(ctx, s.ID, anptest.USD(5000), ""); !errors.Is(err, buyer.ErrInvalidInput) {
		t.Fatalf("lower offer: err = %v", err)
	}
}

// TestBudgetAndCredentialNeverSent captures every byte the buyer sends during
// whole negotiations, one of them with a blind credential, and shows that
// neither the budget nor the credential appears in the clear.
func TestBudgetAndCredentialNeverSent(t *testing.T) {
	const credential = "sk_live_blind_7f3a9c2e41"
	specs := append(threeSellers(), demomarket.SellerSpec{Domain: "cloud-credits.anp", DisplayName: "Cloud Credits (demo)",
		Categories: []string{"services"}, Modes: []anp.Mode{anp.ModeC}, Credential: credential,
		Policy: seller.CurvePolicy{List: anptest.USD(5000), Floor: anptest.USD(3000), Exponent: 1, MaxTurns: 6, RequireCredential: true}})
	m := startMarket(t, specs)
	rec := &recorder{next: http.DefaultTransport}
	c := newCore(t, m, coreOpts{transport: rec, blind: map[string]string{"cloud-credits.anp": credential}})
	ctx := ctxT(t)
	const budget = 9137 // 91.37 USD: a figure no seller or strategy produces by itself
	for _, target := range []string{"ANP/C.cloud-credits.anp", "ANP/C.kitchen-outlet.anp"} {
		s, err := c.ProposeDeal(ctx, target, buyer.Constraints{Item: "API credits", MaxBudget: anptest.USD(budget), MaxTurns: 12}, buyer.ProposeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		s, err = c.Negotiate(ctx, s.ID, concession.New(concession.Boulware, 0.3))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if s.State != buyer.StateConfirmed {
			t.Fatalf("%s ended %s: %s", target, s.State, s.Reason)
		}
		if s.AgreedPrice.Amount >= budget {
			t.Fatalf("deal at the budget itself would make the check meaningless: %s", s.AgreedPrice)
		}
		if _, err := c.ApproveAndSign(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	sent := rec.bytes()
	if len(sent) < 1000 {
		t.Fatalf("captured only %d bytes", len(sent))
	}
	if bytes.Contains(sent, []byte(credential)) {
		t.Fatal("the blind credential was sent in the clear")
	}
	for _, needle := range []string{"91.37", "max_budget", "budget"} {
		if bytes.Contains(bytes.ToLower(sent), []byte(needle)) {
			t.Errorf("captured bytes contain %q", needle)
		}
	}
	// No JSON number anywhere equals the budget in minor units.
	for _, line := range strings.Split(string(sent), "\n") {
		var v any
		if json.Unmarshal([]byte(line), &v) != nil {
			continue
		}
		if found := findNumber(v, budget); found != "" {
			t.Errorf("budget %d appears as a JSON number at %s", budget, found)
		}
	}
}

func findNumber(v any, n float64) string {
	switch x := v.(type) {
	case float64:
		if x == n {
			return "$"
		}
	case map[string]any:
		for k, e := range x {
			if p := findNumber(e, n); p != "" {
				return k + "." + p
			}
		}
	case []any:
		for i, e := range x {
			if p := findNumber(e, n); p != "" {
				return fmt.Sprint(i) + "." + p
			}
		}
	}
	return ""
}

// TestAcceptAtMaxTurns: the seller's standing price can still be accepted
// when the buyer has no counter left, but no new counter is allowed.
func TestAcceptAtMaxTurns(t *testing.T) {
	m := startMarket(t, threeSellers())
	c := newCore(t, m, coreOpts{})
	ctx := ctxT(t)
	s, err := c.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Toaster", MaxBudget: anptest.USD(12000), MaxTurns: 2}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c.Counter(ctx, s.ID, anptest.USD(5000), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Counter(ctx, s.ID, anptest.USD(5100), ""); !errors.Is(err, buyer.ErrBadState) {
		t.Fatalf("counter past max turns: err = %v, want ErrBadState", err)
	}
	s, err = c.Accept(ctx, s.ID, "")
	if err != nil {
		t.Fatalf("accept at max turns: %v", err)
	}
	if s.State != buyer.StateConfirmed {
		t.Fatalf("state %s after accepting the standing price", s.State)
	}
}
