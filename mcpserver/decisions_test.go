package mcpserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/secrets"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// roomServer is a buyer server on the demo market whose approvals above
// 50 USD need a decision room, serving Streamable HTTP with a participant
// token for alice, bob and carol, on a clock the test moves.
type roomServer struct {
	url    string
	tokens map[string]string
	skew   *atomic.Int64 // nanoseconds added to the real clock
}

const operatorToken = "operator-token-0123456789"

func newRoomServer(t *testing.T) *roomServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := demomarket.Start(ctx, demomarket.Options{Difficulty: 4, AsyncDelay: 20 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	bk, err := secrets.NewBlindKeys(demomarket.DemoCredentials(nil))
	if err != nil {
		t.Fatal(err)
	}
	rs := &roomServer{skew: &atomic.Int64{}, tokens: map[string]string{
		"alice": "alice-token-0123456789", "bob": "bob-token-0123456789", "carol": "carol-token-0123456789"}}
	log := zerolog.Nop()
	core, err := buyer.New(buyer.Config{Identity: id, BlindKeys: bk, Logger: log,
		Now:          func() time.Time { return time.Now().Add(time.Duration(rs.skew.Load())) },
		Approval:     buyer.ApprovalPolicy{Mode: buyer.ApprovalModel, GroupAbove: usdMoney(50)},
		Participants: []string{"alice", "bob", "carol"},
		Registry:     registry.NewClient(m.RegistryURL, id, registry.ClientOptions{RootKey: m.RootKey, Logger: log, HTTP: &http.Client{Timeout: 30 * time.Second}})})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(core.Close)
	red := secrets.NewRedactor(hex.EncodeToString(id.Seed()), operatorToken)
	for _, tok := range rs.tokens {
		red.Add(tok)
	}
	srv := mcpserver.New(&tools.Deps{Core: core, RegistryRootKey: m.RootKey, Secrets: tools.NewSecretFilter(red), Logger: log}, log)
	addr := startTransport(t, srv, "http", mcpserver.HTTPOptions{AuthToken: operatorToken, Participants: rs.tokens})
	rs.url = "http://" + addr + "/mcp"
	return rs
}

// connect is a Streamable HTTP client holding token.
func (rs *roomServer) connect(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(rs.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		ClientInfo: mcp.Implementation{Name: "room-test", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tool calls a tool; wantCode "" insists on success and decodes into out.
func tool(t *testing.T, c *client.Client, name string, args map[string]any, wantCode string, out any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	if wantCode == "" {
		if res.IsError {
			t.Fatalf("%s(%v) failed: %s", name, args, text(res))
		}
		if out != nil {
			b, _ := json.Marshal(res.StructuredContent)
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatal(err)
			}
		}
		return text(res)
	}
	if !res.IsError || !strings.HasPrefix(text(res), wantCode+":") {
		t.Fatalf("%s(%v) = %q, want error %s", name, args, text(res), wantCode)
	}
	return text(res)
}

func confirmedOver(t *testing.T, c *client.Client, item string) snap {
	t.Helper()
	var s snap
	tool(t, c, "propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": item, "max_budget": 100}, "", &s)
	for _, p := range []float64{60, 70, 80, 94} {
		tool(t, c, "counter", map[string]any{"session_id": s.SessionID, "price": p}, "", &s)
	}
	if s.State != "CONFIRMED" {
		t.Fatalf("state %s after the recipe", s.State)
	}
	return s
}

// A 2-of-3 room over Streamable HTTP, three clients with three tokens:
// the room decides approve at the second approve; a repeated vote, a vote
// with another's token, a vote naming someone else and a vote after the
// decision are refused; then approve_and_sign signs, recorded as a group
// approval. A second room with one vote at its deadline decides deny.
func TestDecisionRoomTwoOfThreeOverHTTP(t *testing.T) {
	rs := newRoomServer(t)
	op := rs.connect(t, operatorToken)
	alice, bob, carol := rs.connect(t, rs.tokens["alice"]), rs.connect(t, rs.tokens["bob"]), rs.connect(t, rs.tokens["carol"])
	s := confirmedOver(t, op, "stand mixer")
	id := s.SessionID

	msg := tool(t, op, "approve_and_sign", map[string]any{"session_id": id}, "approval_required", nil)
	if !strings.Contains(msg, "decision room") {
		t.Fatalf("approve before a room: %s", msg)
	}
	var room tools.RoomView
	tool(t, op, "open_decision", map[string]any{"session_id": id, "participants": []string{"alice", "bob", "carol"}, "rule": "quorum",
		"quorum": 2, "deadline_seconds": 600}, "", &room)
	if room.Outcome != "pending" || room.OpenedBy != "the MCP client" || room.Price.Amount != 94 {
		t.Fatalf("opened room: %+v", room)
	}
	tool(t, op, "cast_vote", map[string]any{"session_id": id, "choice": "approve", "score": 9}, "vote_refused", nil) // the operator is nobody's participant
	tool(t, alice, "cast_vote", map[string]any{"session_id": id, "choice": "approve", "score": 8, "rationale": "fair price"}, "", &room)
	if room.Outcome != "pending" || len(room.Votes) != 1 || room.Votes[0].Participant != "alice" {
		t.Fatalf("after alice: %+v", room)
	}
	if m := tool(t, alice, "cast_vote", map[string]any{"session_id": id, "choice": "deny", "score": 1}, "vote_refused", nil); !strings.Contains(m, "already voted") {
		t.Fatalf("repeated vote: %s", m)
	}
	aliceAgain := rs.connect(t, rs.tokens["alice"]) // carol's client with alice's token is alice
	if m := tool(t, aliceAgain, "cast_vote", map[string]any{"session_id": id, "choice": "approve", "score": 5}, "vote_refused", nil); !strings.Contains(m, "alice voted") {
		t.Fatalf("a vote with alice's token: %s", m)
	}
	tool(t, carol, "cast_vote", map[string]any{"session_id": id, "choice": "deny", "score": 3, "participant": "bob"}, "invalid_input", nil) // no "from" field
	if m := tool(t, carol, "cast_vote", map[string]any{"session_id": id, "choice": "deny", "score": 3, "rationale": "my token " + rs.tokens["carol"]}, "invalid_input", nil); strings.Contains(m, rs.tokens["carol"]) {
		t.Fatalf("a vote holding a credential is refused without echoing it: %s", m)
	}
	tool(t, bob, "cast_vote", map[string]any{"session_id": id, "choice": "approve", "score": 7}, "", &room)
	if room.Outcome != "approve" {
		t.Fatalf("after bob: %+v", room)
	}
	if m := tool(t, carol, "cast_vote", map[string]any{"session_id": id, "choice": "deny", "score": 2}, "vote_refused", nil); !strings.Contains(m, "already decided") {
		t.Fatalf("a third vote after the decision: %s", m)
	}
	var signed tools.ApproveOutput
	tool(t, op, "approve_and_sign", map[string]any{"session_id": id}, "", &signed)
	ap := signed.Session.Approvals
	if signed.Session.State != "SIGNED" || len(ap) != 1 || ap[0].Via != "group" || ap[0].By != "decision room: alice, bob" {
		t.Fatalf("signed: %s %+v", signed.Session.State, ap)
	}

	// The deadline: one vote, then the clock passes the deadline.
	s2 := confirmedOver(t, op, "kettle")
	tool(t, op, "open_decision", map[string]any{"session_id": s2.SessionID, "participants": []string{"alice", "bob", "carol"}, "rule": "quorum",
		"quorum": 2, "deadline_seconds": 60}, "", &room)
	tool(t, alice, "cast_vote", map[string]any{"session_id": s2.SessionID, "choice": "approve", "score": 8}, "", &room)
	rs.skew.Store(int64(61 * time.Second))
	tool(t, carol, "get_decision", map[string]any{"session_id": s2.SessionID}, "", &room)
	if room.Outcome != "deny" || !strings.HasPrefix(room.StopReason, "timeout") || len(room.Votes) != 1 {
		t.Fatalf("at the deadline: %+v", room)
	}
	tool(t, bob, "cast_vote", map[string]any{"session_id": s2.SessionID, "choice": "approve", "score": 8}, "vote_refused", nil)
	tool(t, op, "approve_and_sign", map[string]any{"session_id": s2.SessionID}, "approval_required", nil)
	var after snap
	tool(t, op, "get_session", map[string]any{"session_id": s2.SessionID}, "", &after)
	if after.State != "CONFIRMED" || after.ArtifactID != "" {
		t.Fatalf("after the denied room: %s", after.State)
	}
}
