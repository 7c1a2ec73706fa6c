package buyer_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// hangingPolicy never answers until released: a seller that goes silent.
type hangingPolicy struct{ release chan struct{} }

func (h hangingPolicy) Open(ctx context.Context, _ seller.SessionView, _ anp.ProposeBody) (seller.Decision, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return seller.Decision{}, ctx.Err()
}

func (h hangingPolicy) Respond(ctx context.Context, s seller.SessionView, _ anp.Money) (seller.Decision, error) {
	return h.Open(ctx, s, anp.ProposeBody{})
}

func cascadeMarket(t *testing.T) *demomarket.Market {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	specs := append(threeSellers(), demomarket.SellerSpec{Domain: "silent-shop.anp", DisplayName: "Silent Shop (demo)",
		Categories: []string{"kitchen"}, Modes: []anp.Mode{anp.ModeC}, Custom: hangingPolicy{release}})
	return startMarket(t, specs)
}

func TestCascade(t *testing.T) {
	for _, order := range []buyer.CascadeOrder{buyer.CascadeSequential, buyer.CascadeParallel} {
		t.Run(string(order), func(t *testing.T) {
			m := cascadeMarket(t)
			c := newCore(t, m, coreOpts{})
			ev := watch(c)
			ctx := ctxT(t)
			var mu sync.Mutex
			var progress []buyer.CascadeOutcome
			start := time.Now()
			res, err := c.NegotiateCascade(ctx, buyer.CascadeRequest{
				Category: "kitchen", Constraints: buyer.Constraints{Item: "Stand mixer", MaxBudget: anptest.USD(10000), MaxTurns: 6},
				// The silent seller never answers, so the timeout is what ends it; the honest
				// sellers need a few milliseconds each, and 6 s leaves room for a loaded CI machine.
				// It stays well below the 10 s the registry and the seller give a relayed request,
				// so the buyer's own deadline ends the silent negotiation, not their errors.
				MaxSellers: 4, Order: order, PerSellerTimeout: 6 * time.Second, Decider: concession.Default(),
				Progress: func(o buyer.CascadeOutcome, done, total int) { mu.Lock(); progress = append(progress, o); mu.Unlock() },
			})
			if err != nil {
				t.Fatalf("cascade: %v", err)
			}
			t.Logf("%s cascade took %s: %+v", order, time.Since(start), res.Outcomes)
			if res.Winner == nil {
				t.Fatalf("no winner: %+v", res.Outcomes)
			}
			if len(res.Outcomes) != 4 {
				t.Fatalf("%d outcomes, want 4", len(res.Outcomes))
			}
			var best int64 = 1 << 62
			confirmed := 0
			for _, o := range res.Outcomes {
				if o.Seller == "silent-shop.anp" && o.Outcome != "timeout" {
					t.Errorf("silent seller outcome = %s, want timeout", o.Outcome)
				}
				if o.Price != nil && (o.Outcome == "confirmed" || o.Outcome == "outbid") && o.Price.Amount < best {
					best = o.Price.Amount
				}
				if o.Outcome == "confirmed" {
					confirmed++
				}
			}
			if confirmed != 1 {
				t.Errorf("%d outcomes confirmed, want exactly 1", confirmed)
			}
			if res.Winner.AgreedPrice.Amount != best {
				t.Errorf("winner price %s, best price seen %d", res.Winner.AgreedPrice, best)
			}
			if res.Winner.State != buyer.StateConfirmed {
				t.Errorf("winner state %s", res.Winner.State)
			}
			all, err := c.ListSessions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range all {
				if s.ID != res.Winner.ID && s.State != buyer.StateCancelled && s.State != buyer.StateStalemate {
					t.Errorf("loser %s with %s left %s", s.ID, s.Seller, s.State)
				}
			}
			if n := ev.n(buyer.EventApprovalRequired); n != 1 {
				t.Errorf("approval_required fired %d times, want exactly 1", n)
			}
			mu.Lock()
			if len(progress) < 4 {
				t.Errorf("progress reported %d times, want at least 4", len(progress))
			}
			mu.Unlock()
			a, err := c.ApproveAndSign(ctx, res.Winner.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: m.RootKey}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A cascade without a decider, in an unknown order or over too many sellers
// is refused before any seller is contacted.
func TestCascadeRefusesBadRequests(t *testing.T) {
	m := startMarket(t, threeSellers())
	c := newCore(t, m, coreOpts{})
	ctx := ctxT(t)
	cons := buyer.Constraints{Item: "Stand mixer", MaxBudget: anptest.USD(10000)}
	for _, tc := range []struct {
		name string
		req  buyer.CascadeRequest
	}{
		{"no decider", buyer.CascadeRequest{Category: "kitchen", Constraints: cons}},
		{"unknown order", buyer.CascadeRequest{Category: "kitchen", Constraints: cons, Order: "random", Decider: concession.Default()}},
		{"too many sellers", buyer.CascadeRequest{Category: "kitchen", Constraints: cons, MaxSellers: 11, Decider: concession.Default()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res, err := c.NegotiateCascade(ctx, tc.req); !errors.Is(err, buyer.ErrInvalidInput) {
				t.Fatalf("NegotiateCascade = %+v, %v; want ErrInvalidInput", res, err)
			}
		})
	}
	if all, err := c.ListSessions(ctx); err != nil || len(all) != 0 {
		t.Fatalf("refused cascades left %d sessions (%v)", len(all), err)
	}
}

// gatedPolicy answers as its curve does once gate is closed: a seller that
// takes as long as the test wants.
type gatedPolicy struct {
	*seller.CurvePolicy
	gate <-chan struct{}
}

func (g gatedPolicy) Open(ctx context.Context, s seller.SessionView, b anp.ProposeBody) (seller.Decision, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return seller.Decision{}, ctx.Err()
	}
	return g.CurvePolicy.Open(ctx, s, b)
}

// A parallel cascade cancels a confirmed deal as soon as a cheaper one is
// known, while other sellers still negotiate: the last seller here opens
// only once an outbid deal was cancelled, so with cancellations left to
// the end it would run into its timeout instead.
func TestCascadeParallelCancelsOutbidDealsEarly(t *testing.T) {
	gate := make(chan struct{})
	curve := func(floor int64) seller.CurvePolicy {
		return seller.CurvePolicy{List: anptest.USD(11000), Floor: anptest.USD(floor), Exponent: 0.5, MaxTurns: 6}
	}
	late := curve(9500)
	specs := []demomarket.SellerSpec{
		{Domain: "cheap-shop.anp", DisplayName: "Cheap Shop (demo)", Categories: []string{"race"}, Modes: []anp.Mode{anp.ModeC}, Policy: curve(8000)},
		{Domain: "dear-shop.anp", DisplayName: "Dear Shop (demo)", Categories: []string{"race"}, Modes: []anp.Mode{anp.ModeC}, Policy: curve(9000)},
		{Domain: "late-shop.anp", DisplayName: "Late Shop (demo)", Categories: []string{"race"}, Modes: []anp.Mode{anp.ModeC},
			Custom: gatedPolicy{&late, gate}},
	}
	m := startMarket(t, specs)
	c := newCore(t, m, coreOpts{})
	var once sync.Once
	c.Subscribe(func(e buyer.Event) {
		if e.Type == buyer.EventSessionCancelled && e.Session.State == buyer.StateCancelled && e.Session.Reason == "outbid" {
			once.Do(func() { close(gate) })
		}
	})
	t.Cleanup(func() { once.Do(func() { close(gate) }) })
	res, err := c.NegotiateCascade(ctxT(t), buyer.CascadeRequest{Category: "race",
		Constraints: buyer.Constraints{Item: "Stand mixer", MaxBudget: anptest.USD(10000), MaxTurns: 6},
		MaxSellers:  3, Order: buyer.CascadeParallel, PerSellerTimeout: 10 * time.Second, Decider: deterministicDecider()})
	if err != nil {
		t.Fatalf("cascade: %v", err)
	}
	outcomes := map[string]string{}
	for _, o := range res.Outcomes {
		outcomes[o.Seller] = o.Outcome
	}
	want := map[string]string{"cheap-shop.anp": "confirmed", "dear-shop.anp": "outbid", "late-shop.anp": "outbid"}
	for seller, o := range want {
		if outcomes[seller] != o {
			t.Errorf("%s: outcome %q, want %q (all: %+v)", seller, outcomes[seller], o, res.Outcomes)
		}
	}
	if res.Winner == nil || res.Winner.Seller != "cheap-shop.anp" {
		t.Fatalf("winner %+v, want cheap-shop.anp", res.Winner)
	}
}

// deterministicDecider concedes on a linear curve with no private seed, so
// sellers with the same policy end at the same price and a seller with a
// lower floor at a lower one: the adaptive default draws its opening from
// the seller's name.
func deterministicDecider() buyer.Decider { return concession.New(concession.Linear, 0) }

// Of equally cheap deals, a parallel cascade keeps the one of the seller
// listed first and cancels the other.
func TestCascadeParallelTieGoesToTheFirstListed(t *testing.T) {
	twin := seller.CurvePolicy{List: anptest.USD(11000), Floor: anptest.USD(8500), Exponent: 1, MaxTurns: 6}
	specs := []demomarket.SellerSpec{
		{Domain: "twin-a.anp", DisplayName: "Twin A (demo)", Categories: []string{"twins"}, Modes: []anp.Mode{anp.ModeC}, Policy: twin},
		{Domain: "twin-b.anp", DisplayName: "Twin B (demo)", Categories: []string{"twins"}, Modes: []anp.Mode{anp.ModeC}, Policy: twin},
	}
	m := startMarket(t, specs)
	c := newCore(t, m, coreOpts{})
	ctx := ctxT(t)
	res, err := c.NegotiateCascade(ctx, buyer.CascadeRequest{Category: "twins",
		Constraints: buyer.Constraints{Item: "Stand mixer", MaxBudget: anptest.USD(10000), MaxTurns: 6},
		MaxSellers:  2, Order: buyer.CascadeParallel, PerSellerTimeout: 10 * time.Second, Decider: deterministicDecider()})
	if err != nil {
		t.Fatalf("cascade: %v", err)
	}
	if len(res.Outcomes) != 2 || res.Winner == nil {
		t.Fatalf("outcomes %+v, winner %v", res.Outcomes, res.Winner)
	}
	first, second := res.Outcomes[0], res.Outcomes[1]
	if first.Price == nil || second.Price == nil || *first.Price != *second.Price {
		t.Fatalf("the twins did not agree on the same price: %+v", res.Outcomes)
	}
	if first.Outcome != "confirmed" || second.Outcome != "outbid" || res.Winner.Seller != first.Seller {
		t.Errorf("outcomes %+v, winner %s; want the first listed (%s) to win", res.Outcomes, res.Winner.Seller, first.Seller)
	}
	s, err := c.GetSession(ctx, second.SessionID)
	if err != nil || s.State != buyer.StateCancelled {
		t.Errorf("the outbid twin is %s (%v), want CANCELLED", s.State, err)
	}
}

// A parallel cascade proposes to the listings its discovery returned and
// looks at the registry's log once for all its proposals; it fetches no
// listing and no tree head per seller. Every proposal is still made. (The
// first cascade pins the sellers' keys, which asks for heads of its own.)
func TestCascadeParallelFetchesNothingTwice(t *testing.T) {
	m := startMarket(t, threeSellers())
	rec := &recorder{next: http.DefaultTransport}
	c := newCore(t, m, coreOpts{transport: rec})
	req := buyer.CascadeRequest{Category: "kitchen",
		Constraints: buyer.Constraints{Item: "Stand mixer", MaxBudget: anptest.USD(10000), MaxTurns: 6},
		MaxSellers:  3, Order: buyer.CascadeParallel, PerSellerTimeout: 10 * time.Second, Decider: concession.Default()}
	if _, err := c.NegotiateCascade(ctxT(t), req); err != nil {
		t.Fatalf("first cascade: %v", err)
	}
	before := len(rec.bytes())
	res, err := c.NegotiateCascade(ctxT(t), req)
	if err != nil {
		t.Fatalf("cascade: %v", err)
	}
	sent := string(rec.bytes()[before:])
	count := func(prefix string) (n int) {
		for _, line := range strings.Split(sent, "\n") {
			if strings.HasPrefix(line, prefix) {
				n++
			}
		}
		return n
	}
	if n := count("GET " + m.RegistryURL + "/v1/listings/"); n != 0 {
		t.Errorf("%d listings fetched after discovery, want 0", n)
	}
	if n := count("GET " + m.RegistryURL + anp.RouteLogHead); n != 1 {
		t.Errorf("%d tree heads fetched, want 1 for the whole cascade", n)
	}
	if n := count("POST " + m.RegistryURL + "/v1/relay/"); n < 3 {
		t.Errorf("%d envelopes relayed, want at least the 3 proposals", n)
	}
	if len(res.Outcomes) != 3 || res.Winner == nil {
		t.Errorf("outcomes %+v, winner %v", res.Outcomes, res.Winner)
	}
}
