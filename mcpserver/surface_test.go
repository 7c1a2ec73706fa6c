package mcpserver_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/tools"
)

// TestResultTextCarriesTheJSON: every successful tool result carries, in its
// one text block, a one-line summary followed by exactly the JSON of its
// structured content (the spec's SHOULD for tools with structured output).
func TestResultTextCarriesTheJSON(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	s := h.confirmed()
	calls := []struct {
		tool string
		args map[string]any
	}{
		{"discover_sellers", map[string]any{"category": "kitchen"}},
		{"get_session", map[string]any{"session_id": s.SessionID}},
		{"list_sessions", map[string]any{}},
		{"approve_and_sign", map[string]any{"session_id": s.SessionID}},
		{"verify_artifact", map[string]any{"artifact_id": s.SessionID}},
		{"propose_deal", map[string]any{"seller": "sketchy-deals.anp", "item": "Laptop", "max_budget": 350}},
		{"cascade", map[string]any{"category": "kitchen", "item": "Pan", "max_budget": 100, "strategy": "parallel"}},
	}
	for _, c := range calls {
		res := h.call(c.tool, c.args)
		if res.IsError || len(res.Content) != 1 {
			t.Fatalf("%s: error %t, %d content blocks: %s", c.tool, res.IsError, len(res.Content), text(res))
		}
		summary, body, ok := strings.Cut(text(res), "\n")
		if !ok || strings.TrimSpace(summary) == "" || strings.HasPrefix(summary, "{") {
			t.Fatalf("%s: no one-line summary before the JSON: %q", c.tool, text(res))
		}
		var fromText, structured any
		if err := json.Unmarshal([]byte(body), &fromText); err != nil {
			t.Fatalf("%s: the text after the summary is not JSON: %v\n%s", c.tool, err, body)
		}
		b, _ := json.Marshal(res.StructuredContent)
		_ = json.Unmarshal(b, &structured)
		if !reflect.DeepEqual(fromText, structured) {
			t.Fatalf("%s: the text's JSON differs from the structured content:\n%s\n%s", c.tool, body, b)
		}
	}
}

// TestArgumentValidation: out-of-range, blank, unknown and oversized
// arguments are refused as invalid_input with a message that names the
// problem, never echoes more than a short prefix of the input and never
// says "invalid input" twice; nothing reaches a seller.
func TestArgumentValidation(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100}, &s)
	huge := strings.Repeat("x", 1<<20)
	cascadeArgs := func(k string, v any) map[string]any {
		a := map[string]any{"category": "kitchen", "item": "Pan", "max_budget": 100}
		a[k] = v
		return a
	}
	cases := []struct {
		name string
		tool string
		args map[string]any
		want []string // in the message
	}{
		{"max_sellers -1", "cascade", cascadeArgs("max_sellers", -1), []string{"max_sellers"}},
		{"max_sellers 11", "cascade", cascadeArgs("max_sellers", 11), []string{"max_sellers"}},
		{"per-seller timeout 0", "cascade", cascadeArgs("per_seller_timeout_seconds", 0), []string{"per_seller_timeout_seconds"}},
		{"cascade item of spaces", "cascade", cascadeArgs("item", "   "), []string{"item", "only spaces"}},
		{"cascade category of spaces", "cascade", cascadeArgs("category", "  "), []string{"category", "only spaces"}},
		{"cascade strategy", "cascade", cascadeArgs("strategy", "random"), []string{"strategy", "sequential", "parallel"}},
		{"propose item of spaces", "propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "    ", "max_budget": 100}, []string{"item", "only spaces"}},
		{"propose empty item", "propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "", "max_budget": 100}, []string{"item"}},
		{"propose quantity 0", "propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Pan", "max_budget": 100, "quantity": 0}, []string{"quantity"}},
		{"list_sessions BOGUS", "list_sessions", map[string]any{"state": "BOGUS"}, []string{"state", "PROPOSED", "COUNTERED", "CONFIRMED", "SIGNED", "CANCELLED", "STALEMATE", "EXPIRED", "ERROR"}},
		{"discover limit 0", "discover_sellers", map[string]any{"limit": 0}, []string{"limit"}},
		{"discover limit 51", "discover_sellers", map[string]any{"limit": 51}, []string{"limit"}},
		{"discover mode", "discover_sellers", map[string]any{"mode": "ANP/Z"}, []string{"mode", "ANP/C"}},
		{"1 MiB category", "discover_sellers", map[string]any{"category": huge}, []string{"category"}},
		{"1 MiB cascade category", "cascade", cascadeArgs("category", huge), []string{"category"}},
		{"1 MiB session id", "get_session", map[string]any{"session_id": huge}, []string{"session_id"}},
		{"1 MiB item", "propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": huge, "max_budget": 100}, []string{"item"}},
		{"1 MiB message", "counter", map[string]any{"session_id": s.SessionID, "price": 60, "message": huge}, []string{"message"}},
		{"1 MiB argument name", "get_session", map[string]any{"session_id": s.SessionID, huge: 1}, []string{"unknown argument"}},
		{"17 terms", "propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Pan", "max_budget": 100, "terms": manyTerms(17)}, []string{"terms"}},
		{"short session id", "get_session", map[string]any{"session_id": "abc"}, []string{"session_id"}},
		{"price 0", "counter", map[string]any{"session_id": s.SessionID, "price": 0}, []string{"price"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := h.fail(tc.tool, tc.args, "invalid_input")
			t.Log(msg)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %s", w, msg)
				}
			}
			if len(msg) > 1000 || strings.Contains(msg, strings.Repeat("x", 100)) {
				t.Errorf("message of %d bytes echoes the input: %.200s", len(msg), msg)
			}
			if strings.Contains(strings.ToLower(msg), "invalid input") {
				t.Errorf("message repeats the code in words: %s", msg)
			}
		})
	}
	var got snap
	h.ok("get_session", map[string]any{"session_id": s.SessionID}, &got)
	if got.Turn != 1 || got.LastOwnOffer != nil {
		t.Fatalf("a refused call changed the session: %+v", got)
	}
	var list tools.ListSessionsOutput
	h.ok("list_sessions", map[string]any{}, &list)
	if len(list.Sessions) != 1 {
		t.Fatalf("a refused propose_deal or cascade opened a session: %d sessions", len(list.Sessions))
	}
}

func manyTerms(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[string(rune('a'+i))] = "x"
	}
	return m
}

// TestErrorAdviceFitsTheTool: a cascade in a category without sellers is
// no_sellers with advice about discovery, not about a session id; an unknown
// session is still unknown_session.
func TestErrorAdviceFitsTheTool(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	msg := h.fail("cascade", map[string]any{"category": "furniture", "item": "Chair", "max_budget": 100}, "no_sellers")
	if !strings.Contains(msg, "discover_sellers") || strings.Contains(msg, "session_id") {
		t.Errorf("no-sellers advice: %s", msg)
	}
	msg = h.fail("get_session", map[string]any{"session_id": "0123456789abcdef0123456789abcdef"}, "unknown_session")
	if !strings.Contains(msg, "list_sessions") {
		t.Errorf("unknown-session advice: %s", msg)
	}
}

// TestSummariesCountRight: "1 session", "1 seller", "2 sessions".
func TestSummariesCountRight(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	summary := func(tool string, args map[string]any) string {
		t.Helper()
		res := h.call(tool, args)
		if res.IsError {
			t.Fatalf("%s: %s", tool, text(res))
		}
		line, _, _ := strings.Cut(text(res), "\n")
		return line
	}
	if got := summary("list_sessions", map[string]any{}); got != "0 sessions." {
		t.Errorf("no sessions: %q", got)
	}
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100}, &s)
	if got := summary("list_sessions", map[string]any{}); got != "1 session." {
		t.Errorf("one session: %q", got)
	}
	h.ok("propose_deal", map[string]any{"seller": "chef-supply.anp", "item": "Knife", "max_budget": 100}, &s)
	if got := summary("list_sessions", map[string]any{}); got != "2 sessions." {
		t.Errorf("two sessions: %q", got)
	}
	if got := summary("discover_sellers", map[string]any{"category": "kitchen", "limit": 1}); !strings.HasPrefix(got, "1 seller: ") {
		t.Errorf("one seller: %q", got)
	}
	if got := summary("discover_sellers", map[string]any{"category": "furniture"}); got != "No sellers found." {
		t.Errorf("no sellers: %q", got)
	}
}

// TestAcceptIsExplained: "accept" is a move, not a tool; wherever it is
// listed, the model is told to call counter with exactly last_seller_price.
func TestAcceptIsExplained(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var s snap
	res := h.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 200}, &s)
	if !contains(s.AllowedMoves, "accept") {
		t.Fatalf("allowed moves %v lack accept (seller at %v, budget 200)", s.AllowedMoves, s.LastSellerPrice)
	}
	summary, _, _ := strings.Cut(text(res), "\n")
	want := "accept (call counter with exactly last_seller_price, " + s.LastSellerPrice.Display + ")"
	if !strings.Contains(summary, want) || !strings.Contains(summary, "cancel (call cancel_session)") {
		t.Errorf("summary does not say how to make the moves: %s", summary)
	}
	lt, err := h.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range lt.Tools {
		if tl.Name != "get_session" {
			continue
		}
		b, _ := json.Marshal(tl.OutputSchema)
		if !strings.Contains(string(b), "accept (call counter with exactly last_seller_price") {
			t.Errorf("get_session's output schema does not explain accept: %s", b)
		}
	}
	// Accepting that way confirms the session.
	h.ok("counter", map[string]any{"session_id": s.SessionID, "price": s.LastSellerPrice.Amount}, &s)
	if s.State != "CONFIRMED" {
		t.Fatalf("counter at the seller's price: state %s", s.State)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestToolErrorsAreLoggedWithTheirCode: the log line of a failed tool call
// carries the error code.
func TestToolErrorsAreLoggedWithTheirCode(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100}, &s)
	h.fail("counter", map[string]any{"session_id": s.SessionID, "price": 150}, "over_budget")
	h.fail("list_sessions", map[string]any{"state": "BOGUS"}, "invalid_input")
	found := map[string]bool{}
	for line := range strings.SplitSeq(h.logText(), "\n") {
		var e struct{ Message, Tool, Code string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Message == "tool call failed" {
			found[e.Tool+":"+e.Code] = true
		}
	}
	for _, want := range []string{"counter:over_budget", "list_sessions:invalid_input"} {
		if !found[want] {
			t.Errorf("no tool-error log line with %s; found %v", want, found)
		}
	}
}

// TestInputSchemasBoundEveryArgument: every string argument has a maximum
// length and every integer argument a range, in the schema hosts see.
func TestInputSchemasBoundEveryArgument(t *testing.T) {
	for _, tl := range tools.All(&tools.Deps{}) {
		var schema struct {
			Properties map[string]map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(tl.Def.RawInputSchema, &schema); err != nil {
			t.Fatal(err)
		}
		for name, p := range schema.Properties {
			switch p["type"] {
			case "string":
				if p["maxLength"] == nil && p["enum"] == nil {
					t.Errorf("%s.%s: a string without maxLength or enum", tl.Def.Name, name)
				}
			case "integer":
				if p["minimum"] == nil || p["maximum"] == nil {
					t.Errorf("%s.%s: an integer without minimum and maximum", tl.Def.Name, name)
				}
			case "number":
				if p["exclusiveMinimum"] == nil && p["minimum"] == nil {
					t.Errorf("%s.%s: a number without a lower bound", tl.Def.Name, name)
				}
			case "object":
				if p["maxProperties"] == nil {
					t.Errorf("%s.%s: an object without maxProperties", tl.Def.Name, name)
				}
			}
		}
	}
}
