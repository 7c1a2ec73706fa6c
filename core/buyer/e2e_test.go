package buyer_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
)

type eventLog struct {
	mu     sync.Mutex
	counts map[buyer.EventType]int
}

func watch(c *buyer.Core) *eventLog {
	l := &eventLog{counts: map[buyer.EventType]int{}}
	c.Subscribe(func(e buyer.Event) {
		l.mu.Lock()
		l.counts[e.Type]++
		l.mu.Unlock()
	})
	return l
}

func (l *eventLog) n(t buyer.EventType) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[t]
}

// TestDealEndToEnd: registry and three sellers as separate loopback servers;
// the buyer authenticates, discovers, proposes, counters three times, reaches
// CONFIRMED, signs, gets the registry countersignature, and the artifact
// verifies offline against the pinned registry root key.
func TestDealEndToEnd(t *testing.T) {
	m := startMarket(t, threeSellers())
	c := newCore(t, m, coreOpts{})
	ev := watch(c)
	ctx := ctxT(t)

	listings, err := c.Discover(ctx, "kitchen", anp.ModeC, 10, 0)
	if err != nil || len(listings) != 3 {
		t.Fatalf("discover: %d listings, %v", len(listings), err)
	}
	s, err := c.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Ninja Blender", Category: "kitchen", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	if s.State != buyer.StateCountered || s.LastSellerPrice == nil || s.LastSellerPrice.Amount <= 10000 {
		t.Fatalf("after propose: state %s, seller price %v; want COUNTERED above budget", s.State, s.LastSellerPrice)
	}
	for i, offer := range []int64{6000, 7000, 8000, 9400} {
		s, err = c.Counter(ctx, s.ID, anptest.USD(offer), "")
		if err != nil {
			t.Fatalf("counter %d: %v", i+1, err)
		}
	}
	if s.State != buyer.StateConfirmed || s.AgreedPrice == nil || *s.AgreedPrice != anptest.USD(9400) {
		t.Fatalf("after 4 counters: state %s agreed %v, want CONFIRMED at 94.00 USD", s.State, s.AgreedPrice)
	}
	if s.Turn != 5 {
		t.Errorf("turn = %d, want 5", s.Turn)
	}
	a, err := c.ApproveAndSign(ctx, s.ID)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if err := anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: m.RootKey}); err != nil {
		t.Fatalf("artifact does not verify offline: %v", err)
	}
	if a.Terms.Price != anptest.USD(9400) || a.Terms.SellerDomain != "kitchen-outlet.anp" || a.Terms.Item != "Ninja Blender" {
		t.Errorf("artifact terms = %+v", a.Terms)
	}
	if a.Terms.SellerKey != m.Nodes["kitchen-outlet.anp"].PublicKey() {
		t.Errorf("artifact seller key is not the seller's identity key")
	}
	// Idempotent: approving again returns the same artifact, no second signing.
	again, err := c.ApproveAndSign(ctx, s.ID)
	if err != nil || again.Registry.Sig != a.Registry.Sig || again.Receipt.LeafIndex != a.Receipt.LeafIndex {
		t.Fatalf("second approve = %v, %v; want the same artifact", again, err)
	}
	got, _ := c.GetSession(ctx, s.ID)
	if got.State != buyer.StateSigned {
		t.Fatalf("state after approve = %s", got.State)
	}
	if ev.n(buyer.EventCounterReceived) < 4 || ev.n(buyer.EventApprovalRequired) != 1 || ev.n(buyer.EventDealSigned) != 1 {
		t.Errorf("events = %v", ev.counts)
	}
	// Every envelope of the transcript chains and verifies offline.
	envs, err := c.Transcript(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anp.VerifyChain(envs); err != nil {
		t.Fatalf("transcript chain: %v", err)
	}
	if len(envs) != 12 { // PROPOSE+COUNTER, 4x(COUNTER+reply), COMMIT+CONFIRM
		t.Errorf("transcript has %d envelopes, want 12", len(envs))
	}
}

// TestDealAsyncSellerOverWebSocket: the seller answers counters later through
// the registry callback, pushed to the buyer over its WebSocket.
func TestDealAsyncSellerOverWebSocket(t *testing.T) {
	m := startMarket(t, threeSellers())
	c := newCore(t, m, coreOpts{})
	ctx := ctxT(t)
	s, err := c.ProposeDeal(ctx, "ANP/C.bargain-bin.anp", buyer.Constraints{Item: "Cast iron pan", MaxBudget: anptest.USD(10000), MaxTurns: 6}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	s, err = c.Counter(ctx, s.ID, anptest.USD(5000), "opening")
	if err != nil {
		t.Fatal(err)
	}
	if !s.AwaitingSeller {
		t.Fatalf("async seller: counter should leave the session awaiting the seller, got %+v", s)
	}
	if _, err := c.Counter(ctx, s.ID, anptest.USD(5500), ""); !errors.Is(err, buyer.ErrBusy) {
		t.Fatalf("counter while awaiting the seller: err = %v, want ErrBusy", err)
	}
	s, err = c.Negotiate(ctx, s.ID, concession.Default())
	if err != nil {
		t.Fatalf("negotiate: %v", err)
	}
	if s.State != buyer.StateConfirmed {
		t.Fatalf("state = %s (%s), want CONFIRMED", s.State, s.Reason)
	}
	if s.Turn < 4 {
		t.Errorf("only %d turns; want at least 3 counter rounds", s.Turn)
	}
	a, err := c.ApproveAndSign(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: m.RootKey}); err != nil {
		t.Fatal(err)
	}
}
