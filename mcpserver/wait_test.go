package mcpserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// notes collects the notifications one client receives.
type notes struct {
	mu  sync.Mutex
	all []mcp.JSONRPCNotification
	got chan struct{} // signalled on each notification
}

func (n *notes) add(x mcp.JSONRPCNotification) {
	n.mu.Lock()
	n.all = append(n.all, x)
	n.mu.Unlock()
	select {
	case n.got <- struct{}{}:
	default:
	}
}

// await blocks until a notification satisfying ok arrived (or fails the
// test after a generous deadline: the outcome never depends on timing).
func (n *notes) await(t *testing.T, what string, ok func(mcp.JSONRPCNotification) bool) mcp.JSONRPCNotification {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		n.mu.Lock()
		for _, x := range n.all {
			if ok(x) {
				n.mu.Unlock()
				return x
			}
		}
		n.mu.Unlock()
		select {
		case <-n.got:
		case <-deadline:
			t.Fatalf("no %s among %d notifications", what, len(n.all))
		}
	}
}

func (n *notes) json() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	b, _ := json.Marshal(n.all)
	return string(b)
}

// legacyClient connects a second in-process client on protocol 2025-11-25,
// the last one with resources/subscribe, and records its notifications.
func legacyClient(t *testing.T, h *harness) (*client.Client, *notes) {
	t.Helper()
	c, err := client.NewInProcessClient(h.srv.MCPServer)
	if err != nil {
		t.Fatal(err)
	}
	n := &notes{got: make(chan struct{}, 1)}
	c.OnNotification(n.add)
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: "2025-11-25", ClientInfo: mcp.Implementation{Name: "subscriber", Version: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := init.Capabilities.Resources; r == nil || !r.Subscribe || r.ListChanged {
		t.Fatalf("resources capability %+v, want subscribe true and listChanged false", r)
	}
	t.Cleanup(func() { c.Close() })
	return c, n
}

// subscribe sends resources/subscribe for uri.
func subscribe(t *testing.T, c *client.Client, uri string) {
	t.Helper()
	//lint:ignore SA1019 resources/subscribe is what clients up to 2025-11-25 (Claude Desktop, the TypeScript SDK) send
	if err := c.Subscribe(context.Background(), mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: uri}}); err != nil {
		t.Fatal(err)
	}
}

func callWith(t *testing.T, c *client.Client, name string, args map[string]any, token any, out any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}}
	if token != nil {
		req.Params.Meta = &mcp.Meta{ProgressToken: token}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("%s: %s", name, text(res))
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return res
}

func slowShop() demomarket.SellerSpec {
	return demomarket.SellerSpec{Domain: "slow-shop.anp", DisplayName: "Slow Shop (demo)", Categories: []string{"kitchen"},
		Modes: []anp.Mode{anp.ModeC}, Async: true, Policy: seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(8000), Exponent: 1, MaxTurns: 6}}
}

func isUpdate(uri string) func(mcp.JSONRPCNotification) bool {
	return func(x mcp.JSONRPCNotification) bool {
		return x.Method == mcp.MethodNotificationResourceUpdated && x.Params.AdditionalFields["uri"] == uri
	}
}

// TestCounterAwaitsTheAsyncSeller: a counter to an asynchronous seller
// returns the seller's answer in one tool call, with progress on the way,
// and a client subscribed to the session gets
// notifications/resources/updated for it. The seller answers when the test
// releases it, not when a clock says.
func TestCounterAwaitsTheAsyncSeller(t *testing.T) {
	release := make(chan struct{})
	h := newHarnessWith(t, harnessOpts{asyncRelease: release}, []demomarket.SellerSpec{slowShop()})
	c, n := legacyClient(t, h)
	var s snap
	callWith(t, c, "propose_deal", map[string]any{"seller": "ANP/C.slow-shop.anp", "item": "Kettle", "max_budget": 93.17}, nil, &s)
	uri := "clinch://sessions/" + s.SessionID
	subscribe(t, c, uri)
	done := make(chan snap, 1)
	go func() {
		var got snap
		callWith(t, c, "counter", map[string]any{"session_id": s.SessionID, "price": 85, "wait_seconds": 45}, "wait-1", &got)
		done <- got
	}()
	release <- struct{}{} // taken only once the COUNTER is at the seller
	got := <-done
	if got.State != "COUNTERED" || got.AwaitingSeller || got.LastSellerPrice == nil || got.LastSellerPrice.Amount >= 120 || got.Turn != 2 {
		t.Fatalf("one counter call returned %+v, want the seller's answer", got)
	}
	n.await(t, "resources/updated for "+uri, isUpdate(uri))
	n.await(t, "progress when the wait began", func(x mcp.JSONRPCNotification) bool {
		m, _ := x.Params.AdditionalFields["message"].(string)
		return x.Method == "notifications/progress" && x.Params.AdditionalFields["progressToken"] == "wait-1" && strings.HasPrefix(m, "waiting up to 45 s")
	})
	n.await(t, "progress when the seller answered", func(x mcp.JSONRPCNotification) bool {
		m, _ := x.Params.AdditionalFields["message"].(string)
		return x.Method == "notifications/progress" && x.Params.AdditionalFields["progressToken"] == "wait-1" && strings.Contains(m, "answered")
	})
	if all := n.json(); strings.Contains(all, "93.17") || strings.Contains(all, "9317") {
		t.Fatalf("a notification carries the budget: %s", all)
	}
}

// TestCounterStillWaiting: a seller silent for wait_seconds leaves the
// session saying it waits (awaiting_seller, allowed moves wait and cancel).
func TestCounterStillWaiting(t *testing.T) {
	h := newHarnessWith(t, harnessOpts{asyncRelease: make(chan struct{})}, []demomarket.SellerSpec{slowShop()})
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "ANP/C.slow-shop.anp", "item": "Kettle", "max_budget": 100}, &s)
	res := h.ok("counter", map[string]any{"session_id": s.SessionID, "price": 85, "wait_seconds": 1}, &s)
	if !s.AwaitingSeller || s.State != "COUNTERED" || strings.Join(s.AllowedMoves, ",") != "wait,cancel" {
		t.Fatalf("after wait_seconds: %+v", s)
	}
	if !strings.Contains(text(res), "Waiting for the seller's answer") {
		t.Fatalf("summary does not say it waits: %s", text(res))
	}
	var s2 snap
	h.ok("propose_deal", map[string]any{"seller": "ANP/C.slow-shop.anp", "item": "Kettle", "max_budget": 100}, &s2)
	h.ok("counter", map[string]any{"session_id": s2.SessionID, "price": 85, "wait_seconds": 0}, &s2)
	if !s2.AwaitingSeller {
		t.Fatalf("wait_seconds 0 waited: %+v", s2)
	}
}

// escalating sends every counter below 90.00 to a person.
type escalating struct{ seller.CurvePolicy }

func (p *escalating) Respond(ctx context.Context, s seller.SessionView, offer anp.Money) (seller.Decision, error) {
	if offer.Amount < 9000 {
		return seller.Decision{Action: seller.ActionEscalate, Message: "A manager will review your offer."}, nil
	}
	return p.CurvePolicy.Respond(ctx, s, offer)
}

// TestEscalationReachesTheHost: a seller's ESCALATE is a session state with
// allowed moves, a log message and a resource update; so is its
// resolution. No notification carries the budget.
func TestEscalationReachesTheHost(t *testing.T) {
	pol := &escalating{seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(9500), Exponent: 1, MaxTurns: 6}}
	h := newHarnessWith(t, harnessOpts{}, []demomarket.SellerSpec{{Domain: "manager-approval.anp", DisplayName: "Manager Approval (demo)",
		Categories: []string{"kitchen"}, Modes: []anp.Mode{anp.ModeC}, Custom: pol}})
	c, n := legacyClient(t, h)
	//lint:ignore SA1019 logging/setLevel is how clients up to 2025-11-25 (Claude Desktop, the TypeScript SDK) choose their level
	if err := c.SetLevel(context.Background(), mcp.SetLevelRequest{Params: mcp.SetLevelParams{Level: mcp.LoggingLevelInfo}}); err != nil {
		t.Fatal(err)
	}
	var s snap
	callWith(t, c, "propose_deal", map[string]any{"seller": "ANP/C.manager-approval.anp", "item": "Range hood", "max_budget": 93.17}, nil, &s)
	uri := "clinch://sessions/" + s.SessionID
	subscribe(t, c, uri)
	callWith(t, c, "counter", map[string]any{"session_id": s.SessionID, "price": 85}, nil, &s)
	if s.State != "ESCALATED" || strings.Join(s.AllowedMoves, ",") != "wait,cancel" || s.Escalation == nil || s.Escalation.Status != "pending" {
		t.Fatalf("after ESCALATE: %+v", s)
	}
	isLog := func(word string) func(mcp.JSONRPCNotification) bool {
		return func(x mcp.JSONRPCNotification) bool {
			d, _ := x.Params.AdditionalFields["data"].(string)
			return x.Method == "notifications/message" && strings.Contains(d, s.SessionID) && strings.Contains(d, word)
		}
	}
	n.await(t, "escalation log message", isLog("ESCALATED"))
	n.await(t, "resources/updated", isUpdate(uri))
	if err := h.market.Nodes["manager-approval.anp"].ResolveEscalation(context.Background(), s.SessionID, seller.Decision{Action: seller.ActionAccept}); err != nil {
		t.Fatal(err)
	}
	n.await(t, "resolution log message", isLog("decided (accepted)"))
	var got snap
	callWith(t, c, "get_session", map[string]any{"session_id": s.SessionID}, nil, &got)
	if got.State != "CONFIRMED" || got.Escalation == nil || got.Escalation.Status != "resolved" || got.Escalation.Outcome != "accepted" {
		t.Fatalf("after the resolution: %+v", got)
	}
	if all := n.json(); strings.Contains(all, "93.17") || strings.Contains(all, "9317") || strings.Contains(all, "manager will review") {
		t.Fatalf("a notification carries the budget or seller text: %s", all)
	}
}
