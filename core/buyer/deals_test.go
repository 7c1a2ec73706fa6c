package buyer_test

import (
	"errors"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// TestDealLifecycleFromTheBuyer: a real registry and seller nodes on
// loopback; the seller fulfils, the buyer confirms; another deal is
// disputed and the arbiter decides. The buyer's view of each deal is
// verified offline from the registry's log.
func TestDealLifecycleFromTheBuyer(t *testing.T) {
	m := startMarket(t, threeSellers())
	c := newCore(t, m, coreOpts{})
	ctx := ctxT(t)
	const domain = "kitchen-outlet.anp"

	s := signedSession(ctx, t, c, "Ninja Blender")
	got, err := c.Deal(ctx, s.ID)
	if err != nil {
		t.Fatalf("Deal: %v", err)
	}
	if got.Deal == nil || got.Deal.State != anp.StateAwaitingDelivery || got.Deal.DeliverBy.UnixMilli() != got.Artifact.Terms.Commitment.DeliverBy {
		t.Fatalf("signed deal: %+v", got.Deal)
	}
	if _, err := c.ConfirmDelivery(ctx, s.ID); !errors.Is(err, buyer.ErrBadState) {
		t.Fatalf("confirm before delivery: %v, want ErrBadState", err)
	}
	if _, err := m.Nodes[domain].Fulfil(ctx, s.ID, "tracking 1Z999AA10123456784"); err != nil {
		t.Fatalf("Fulfil: %v", err)
	}
	got, err = c.ConfirmDelivery(ctx, s.ID)
	if err != nil || got.Deal.State != anp.StateReceived || got.Deal.Evidence != anp.HashBytes([]byte("tracking 1Z999AA10123456784")) {
		t.Fatalf("confirm: %+v, %v", got.Deal, err)
	}
	if again, err := c.ConfirmDelivery(ctx, s.ID); err != nil || again.Deal.Events != 2 {
		t.Fatalf("confirm again: %+v, %v; want the same two events", again.Deal, err)
	}
	if _, err := c.OpenDispute(ctx, s.ID, buyer.DisputeRequest{Reason: anp.ReasonNotAsDescribed, Severity: 2}); !errors.Is(err, buyer.ErrBadState) {
		t.Fatalf("dispute after receipt: %v", err)
	}

	s2 := signedSession(ctx, t, c, "Ninja Blender")
	if _, err := c.OpenDispute(ctx, s2.ID, buyer.DisputeRequest{Reason: "my budget was 90", Severity: 2}); !errors.Is(err, buyer.ErrInvalidInput) {
		t.Fatalf("dispute with a reason off the list: %v", err)
	}
	got, err = c.OpenDispute(ctx, s2.ID, buyer.DisputeRequest{Reason: anp.ReasonNonDelivery, Severity: 3, Attachments: []string{anp.HashBytes([]byte("photo"))}})
	if err != nil || got.Deal.State != anp.StateDisputed || got.Deal.Dispute.Reason != anp.ReasonNonDelivery {
		t.Fatalf("dispute: %+v, %v", got.Deal, err)
	}
	if _, err := c.OpenDispute(ctx, s2.ID, buyer.DisputeRequest{Reason: anp.ReasonLateDelivery, Severity: 1}); !errors.Is(err, anp.ErrDisputeExists) {
		t.Fatalf("second dispute: %v, want ErrDisputeExists", err)
	}
	if _, err := m.Registry.Resolve(ctx, s2.ID, anp.OutcomeSplit, anp.Decider{Kind: anp.DecidedByPerson, ID: "ops"}); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	got, err = c.Deal(ctx, s2.ID)
	if err != nil || got.Deal.State != anp.StateResolved || got.Deal.Resolution.Outcome != anp.OutcomeSplit {
		t.Fatalf("resolved: %+v, %v", got.Deal, err)
	}
}
