package buyer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// The five ways a deal goes after the signature in the lifecycle end-to-end test.
const (
	onTime         = iota // FULFILL before deliver_by, RECEIPT
	late                  // breach at deliver_by, a late FULFILL, RECEIPT
	neverDelivered        // breach at deliver_by, nothing else
	wonByBuyer            // DISPUTE non_delivery, resolved for the buyer by rule non_delivery_v1
	wonBySeller           // FULFILL, DISPUTE not_as_described, resolved for the seller by a person
	scenarios
)

// clockedMarket starts the three sellers and a registry on loopback, all
// on clock, and a buyer engine on the same clock.
func clockedMarket(t *testing.T, clock *anptest.Clock) (*demomarket.Market, *buyer.Core, *registry.Client) {
	t.Helper()
	ctx := ctxT(t)
	m, err := demomarket.Start(ctx, demomarket.Options{Sellers: threeSellers(), Difficulty: 4, AsyncDelay: 20 * time.Millisecond, Logger: zerolog.Nop(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	client := registry.NewClient(m.RegistryURL, id, registry.ClientOptions{HTTP: &http.Client{Timeout: 20 * time.Second}, RootKey: m.RootKey, Now: clock.Now,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
	c, err := buyer.New(buyer.Config{Identity: id, Registry: client, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return m, c, client
}

// signWith negotiates a deal with domain with the default strategy and signs it.
func signWith(ctx context.Context, t *testing.T, c *buyer.Core, domain string) *anp.Artifact {
	t.Helper()
	s, err := c.ProposeDeal(ctx, "ANP/C."+domain, buyer.Constraints{Item: "Cast iron pan", MaxBudget: anptest.USD(15000), MaxTurns: 6}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c.Negotiate(ctx, s.ID, concession.Default()); err != nil || s.State != buyer.StateConfirmed {
		t.Fatalf("negotiate with %s: %s (%s) %v", domain, s.State, s.Reason, err)
	}
	a, err := c.ApproveAndSign(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// logLeaves reads every leaf of the registry's log, as anyone can.
func logLeaves(t *testing.T, c *registry.Client) []anp.LogLeaf {
	t.Helper()
	ctx := ctxT(t)
	head, err := c.LogHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []anp.LogLeaf
	for uint64(len(out)) < head.Size {
		data, err := c.LogEntries(ctx, uint64(len(out)), head.Size)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range data {
			l, err := anp.ParseLogLeaf(d)
			if err != nil {
				t.Fatalf("log leaf %d: %v", len(out), err)
			}
			out = append(out, l)
		}
	}
	return out
}

// TestThirtyDealsAfterTheSignature: three sellers, thirty deals over
// loopback on a controlled registry clock, six each fulfilled on time,
// fulfilled late, never delivered (the registry records the breach),
// disputed and won by the buyer (rule non_delivery_v1), disputed and won by
// the seller (a person decides). Then the registry's log alone, read as
// anyone reads it, replays every deal's lifecycle to the state each
// scenario must end in, with the leaf counts the scenarios predict.
func TestThirtyDealsAfterTheSignature(t *testing.T) {
	clock := anptest.NewClock(time.Now())
	m, c, client := clockedMarket(t, clock)
	ctx := ctxT(t)
	domains := []string{"kitchen-outlet.anp", "chef-supply.anp", "bargain-bin.anp"}
	deals := make([]*anp.Artifact, 30)
	for i := range deals {
		deals[i] = signWith(ctx, t, c, domains[i%3])
	}
	kind := func(i int) int { return i % scenarios }

	for i, a := range deals {
		id, node := a.Terms.SessionID, m.Nodes[a.Terms.SellerDomain]
		switch kind(i) {
		case onTime, wonBySeller:
			if _, err := node.Fulfil(ctx, id, "tracking "+id[:8]); err != nil {
				t.Fatalf("deal %d: Fulfil: %v", i, err)
			}
		case wonByBuyer:
			if _, err := c.OpenDispute(ctx, id, buyer.DisputeRequest{Reason: anp.ReasonNonDelivery, Severity: 4}); err != nil {
				t.Fatalf("deal %d: dispute: %v", i, err)
			}
		}
		switch kind(i) {
		case onTime:
			if _, err := c.ConfirmDelivery(ctx, id); err != nil {
				t.Fatalf("deal %d: confirm: %v", i, err)
			}
		case wonBySeller:
			if _, err := c.OpenDispute(ctx, id, buyer.DisputeRequest{Reason: anp.ReasonNotAsDescribed, Severity: 2}); err != nil {
				t.Fatalf("deal %d: dispute: %v", i, err)
			}
		}
	}

	clock.Advance(anp.DefaultDeliveryWindow + time.Minute)
	if n, err := m.Registry.SweepDeals(ctx); err != nil || n != 12 {
		t.Fatalf("sweep past deliver_by: %d events, %v; want the 12 breaches", n, err)
	}
	for i, a := range deals {
		id := a.Terms.SessionID
		switch kind(i) {
		case late:
			if _, err := m.Nodes[a.Terms.SellerDomain].Fulfil(ctx, id, "tracking (late) "+id[:8]); err != nil {
				t.Fatalf("deal %d: late Fulfil: %v", i, err)
			}
			if _, err := c.ConfirmDelivery(ctx, id); err != nil {
				t.Fatalf("deal %d: confirm: %v", i, err)
			}
		case wonBySeller:
			if _, err := m.Registry.Resolve(ctx, id, anp.OutcomeForSeller, anp.Decider{Kind: anp.DecidedByPerson, ID: "ops"}); err != nil {
				t.Fatalf("deal %d: resolve: %v", i, err)
			}
		}
	}
	clock.Advance(time.Duration(anp.NonDeliveryGrace) * time.Millisecond)
	if n, err := m.Registry.SweepDeals(ctx); err != nil || n != 6 {
		t.Fatalf("sweep after the grace period: %d events, %v; want the 6 rule resolutions", n, err)
	}

	// The log alone.
	leaves := logLeaves(t, client)
	events := map[string][]anp.DealEventEntry{}
	kinds := map[string]int{}
	for i, l := range leaves {
		if l.DealEvent != nil {
			ev := l.DealEvent.Event
			events[ev.Session] = append(events[ev.Session], anp.DealEventEntry{LeafIndex: uint64(i), Leaf: *l.DealEvent})
			kinds[ev.Kind]++
		}
	}
	want := map[string]int{anp.EventFulfill: 18, anp.EventReceipt: 12, anp.EventBreach: 12, anp.EventDispute: 12, anp.EventResolve: 12}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s leaves in the log, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	keys, err := client.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range deals {
		l, err := anp.VerifyLifecycle(a, anp.VerifyOptions{RootKey: m.RootKey}, keys.Chain, events[a.Terms.SessionID])
		if err != nil {
			t.Fatalf("deal %d: the log's lifecycle does not verify: %v", i, err)
		}
		checkScenario(t, i, kind(i), l)
	}
}

// checkScenario checks the state a deal's replayed lifecycle ends in.
func checkScenario(t *testing.T, i, kind int, l *anp.Lifecycle) {
	t.Helper()
	type end struct {
		state          anp.DealState
		late, breached bool
		outcome        string
	}
	want := map[int]end{
		onTime:         {anp.StateReceived, false, false, ""},
		late:           {anp.StateReceived, true, true, ""},
		neverDelivered: {anp.StateBreached, false, true, ""},
		wonByBuyer:     {anp.StateResolved, false, false, anp.OutcomeForBuyer},
		wonBySeller:    {anp.StateResolved, false, false, anp.OutcomeForSeller},
	}[kind]
	got := end{l.State, l.Late, l.Breached, ""}
	if l.Resolution != nil {
		got.outcome = l.Resolution.Outcome
	}
	if got != want {
		t.Errorf("deal %d (scenario %d): %+v, want %+v", i, kind, got, want)
	}
}
