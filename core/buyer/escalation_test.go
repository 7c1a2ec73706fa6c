package buyer_test

import (
	"context"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// escalatingPolicy sends every counter below 90.00 to a person.
type escalatingPolicy struct{ seller.CurvePolicy }

func (p *escalatingPolicy) Respond(ctx context.Context, s seller.SessionView, offer anp.Money) (seller.Decision, error) {
	if offer.Amount < 9000 {
		return seller.Decision{Action: seller.ActionEscalate, Message: "A manager will review your offer."}, nil
	}
	return p.CurvePolicy.Respond(ctx, s, offer)
}

// TestEscalationResolvedByAPerson: the seller escalates, the buyer waits
// (ESCALATE, no move allowed), a person accepts through ResolveEscalation,
// and the answer reaches the buyer over the WebSocket; the deal signs.
func TestEscalationResolvedByAPerson(t *testing.T) {
	pol := &escalatingPolicy{seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(9500), Exponent: 1, MaxTurns: 6}}
	m := startMarket(t, []demomarket.SellerSpec{{Domain: "manager-approval.anp", DisplayName: "Manager Approval (demo)",
		Categories: []string{"kitchen"}, Modes: []anp.Mode{anp.ModeC}, Custom: pol}})
	c := newCore(t, m, coreOpts{})
	ctx := ctxT(t)
	s, err := c.ProposeDeal(ctx, "ANP/C.manager-approval.anp", buyer.Constraints{Item: "Range hood", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c.Counter(ctx, s.ID, anptest.USD(8500), "best I can do"); err != nil {
		t.Fatal(err)
	}
	if !s.Escalated || !s.AwaitingSeller || s.State != buyer.StateEscalated || s.Escalation.Status != buyer.EscalationPending {
		t.Fatalf("after ESCALATE: %+v", s)
	}
	node := m.Nodes["manager-approval.anp"]
	if err := node.ResolveEscalation(ctx, s.ID, seller.Decision{Action: seller.ActionEscalate}); anp.CodeOf(err) != anp.CodeBadRequest {
		t.Fatalf("escalating again: %v", err)
	}
	if err := node.ResolveEscalation(ctx, s.ID, seller.Decision{Action: seller.ActionAccept, Message: "Approved by the manager."}); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if err := node.ResolveEscalation(ctx, s.ID, seller.Decision{Action: seller.ActionAccept}); anp.CodeOf(err) != anp.CodeBadState {
		t.Fatalf("resolving twice: %v", err)
	}
	s, err = c.WaitForSeller(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != buyer.StateConfirmed || *s.AgreedPrice != anptest.USD(8500) || s.Escalated || s.Escalation.Status != buyer.EscalationResolved {
		t.Fatalf("after the resolution: %+v", s)
	}
	a, err := c.ApproveAndSign(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: m.RootKey}); err != nil {
		t.Fatal(err)
	}
}
