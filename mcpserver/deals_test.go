package mcpserver_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// TestDealLifecycleThroughMCP: through an MCP client, sign a deal, the
// seller fulfils, confirm_delivery; sign another, open_dispute, the
// registry's arbiter resolves and clinch://disputes/{id} shows the
// decision. The session snapshot carries the commitment throughout.
func TestDealLifecycleThroughMCP(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()

	s := h.confirmed()
	h.ok("approve_and_sign", map[string]any{"session_id": s.SessionID}, new(any))
	var got snap
	h.ok("get_session", map[string]any{"session_id": s.SessionID}, &got)
	if got.Commitment == nil || got.Commitment.State != string(anp.StateAwaitingDelivery) || got.Commitment.DeliverBy == "" || got.Commitment.ReceiptHours != 168 {
		t.Fatalf("signed session's commitment: %+v", got.Commitment)
	}
	h.fail("confirm_delivery", map[string]any{"session_id": s.SessionID}, "wrong_state")
	if _, err := h.market.Nodes["kitchen-outlet.anp"].Fulfil(ctx, s.SessionID, "tracking 1Z999"); err != nil {
		t.Fatalf("Fulfil: %v", err)
	}
	h.ok("confirm_delivery", map[string]any{"session_id": s.SessionID}, &got)
	if got.Commitment.State != string(anp.StateReceived) || got.Commitment.FulfilledAt == "" || got.Commitment.Events != 2 {
		t.Fatalf("after confirm_delivery: %+v", got.Commitment)
	}

	s2 := h.confirmed()
	h.ok("approve_and_sign", map[string]any{"session_id": s2.SessionID}, new(any))
	h.fail("open_dispute", map[string]any{"session_id": s2.SessionID, "reason": "my budget was 120", "severity": 2}, "invalid_input")
	h.ok("open_dispute", map[string]any{"session_id": s2.SessionID, "reason": "non_delivery", "severity": 4,
		"attachments": []string{anp.HashBytes([]byte("photo of the empty doorstep"))}}, &got)
	if got.Commitment.State != string(anp.StateDisputed) || got.Commitment.Dispute == nil || got.Commitment.Dispute.By != anp.ByBuyer || got.Commitment.DisputeURI != "clinch://disputes/"+s2.SessionID {
		t.Fatalf("after open_dispute: %+v", got.Commitment)
	}
	h.fail("open_dispute", map[string]any{"session_id": s2.SessionID, "reason": "late_delivery", "severity": 1}, "wrong_state")
	if _, err := h.market.Registry.Resolve(ctx, s2.SessionID, anp.OutcomeForBuyer, anp.Decider{Kind: anp.DecidedByPerson, ID: "ops"}); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	res, err := h.client.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "clinch://disputes/" + s2.SessionID}})
	if err != nil {
		t.Fatalf("read the dispute: %v", err)
	}
	body := res.Contents[0].(mcp.TextResourceContents).Text
	var dispute struct {
		SessionID  string               `json:"session_id"`
		Commitment tools.CommitmentView `json:"commitment"`
	}
	if err := json.Unmarshal([]byte(body), &dispute); err != nil {
		t.Fatal(err)
	}
	c := dispute.Commitment
	if dispute.SessionID != s2.SessionID || c.State != "resolved" || c.Resolution == nil || c.Resolution.Outcome != "for_buyer" ||
		c.Resolution.DecidedBy != "person ops" || c.Dispute.Reason != "non_delivery" || c.Dispute.Severity != 4 {
		t.Fatalf("dispute resource: %s", body)
	}
	if _, err := h.client.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "clinch://disputes/" + s.SessionID}}); err == nil {
		t.Fatal("a deal without a dispute has a dispute resource")
	}
}
