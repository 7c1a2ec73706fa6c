package mcpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// errorCase is a prompt or resource request that must fail with a given
// JSON-RPC code (for a client on protocol 2025-11-25).
type errorCase struct {
	name   string
	method string
	params map[string]any
	code   int
}

func errorCases(t *testing.T, h *harness) []errorCase {
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100}, &s)
	unknown := "0123456789abcdef0123456789abcdef"
	read := func(uri string) map[string]any { return map[string]any{"uri": uri} }
	prompt := func(name string, args map[string]string) map[string]any {
		return map[string]any{"name": name, "arguments": args}
	}
	return []errorCase{
		{"unknown session resource", "resources/read", read("clinch://sessions/" + unknown), mcp.RESOURCE_NOT_FOUND},
		{"unknown transcript", "resources/read", read("clinch://sessions/" + unknown + "/transcript"), mcp.RESOURCE_NOT_FOUND},
		{"artifact of an unsigned session", "resources/read", read("clinch://artifacts/" + s.SessionID), mcp.RESOURCE_NOT_FOUND},
		{"1 MiB session id", "resources/read", read("clinch://sessions/" + strings.Repeat("a", 1<<20)), mcp.RESOURCE_NOT_FOUND},
		{"URI outside every template (mcp-go's own answer)", "resources/read", read("clinch://nothing/here"), mcp.RESOURCE_NOT_FOUND},
		{"negotiation_turn without session_id", "prompts/get", prompt("negotiation_turn", map[string]string{}), mcp.INVALID_PARAMS},
		{"negotiation_turn for an unknown session", "prompts/get", prompt("negotiation_turn", map[string]string{"session_id": unknown}), mcp.INVALID_PARAMS},
		{"negotiation_turn with a 1 MiB session_id", "prompts/get", prompt("negotiation_turn", map[string]string{"session_id": strings.Repeat("b", 1<<20)}), mcp.INVALID_PARAMS},
		{"buyer_brief of only spaces", "prompts/get", prompt("buyer_brief", map[string]string{"request": "   "}), mcp.INVALID_PARAMS},
		{"unknown prompt (mcp-go's own answer)", "prompts/get", prompt("no_such_prompt", nil), mcp.INVALID_PARAMS},
	}
}

// checkErrorResponse checks the code, and that the message is short (never
// the whole bad input).
func checkErrorResponse(t *testing.T, tc errorCase, code int, msg string) {
	t.Helper()
	if code != tc.code {
		t.Errorf("%s: code %d (%s), want %d", tc.name, code, msg, tc.code)
	}
	if len(msg) > 400 {
		t.Errorf("%s: the message is %d bytes long: %.100s…", tc.name, len(msg), msg)
	}
}

// TestErrorCodesOverStdio: unknown resources inside a matched template are
// resource-not-found (-32002) and bad prompt arguments invalid params
// (-32602), not internal errors, over real stdio.
func TestErrorCodesOverStdio(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	srv := mcpserver.New(&tools.Deps{Core: h.core, Logger: zerolog.Nop()}, zerolog.Nop())
	c := startStdio(t, srv)
	for _, tc := range errorCases(t, h) {
		msgs := c.call(tc.method, tc.params)
		resp := msgs[len(msgs)-1]
		if resp.Error == nil {
			t.Errorf("%s: no error: %s", tc.name, resp.Result)
			continue
		}
		checkErrorResponse(t, tc, resp.Error.Code, resp.Error.Message)
	}
	// A good read still works, and its code is untouched by the corrections.
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "chef-supply.anp", "item": "Knife", "max_budget": 90}, &s)
	var rr struct{ Contents []json.RawMessage }
	c.result(c.call("resources/read", map[string]any{"uri": "clinch://sessions/" + s.SessionID}), &rr)
	if len(rr.Contents) != 1 {
		t.Fatalf("read: %+v", rr)
	}
}

// TestErrorCodesOverHTTP checks the same over Streamable HTTP, for a legacy
// client (2025-11-25: -32002, HTTP 200) with raw requests, and for a modern
// one (2026-07-28, SEP-2164: -32602 for both, HTTP 400) with mcp-go's client.
func TestErrorCodesOverHTTP(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	srv := mcpserver.New(&tools.Deps{Core: h.core, Logger: zerolog.Nop()}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- mcpserver.ServeHTTP(ctx, srv, mcpserver.HTTPOptions{Addr: "127.0.0.1:0", Logger: zerolog.Nop(), Ready: func(a string) { ready <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeHTTP: %v", err)
		}
	})
	var url string
	select {
	case a := <-ready:
		url = "http://" + a + "/mcp"
	case <-time.After(30 * time.Second):
		t.Fatal("the HTTP transport did not start")
	}
	cases := errorCases(t, h)

	t.Run("legacy", func(t *testing.T) {
		session := ""
		post := func(body map[string]any) (int, rpcMessage) {
			t.Helper()
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if session != "" {
				req.Header.Set("Mcp-Session-Id", session)
				req.Header.Set("Mcp-Protocol-Version", mcp.LATEST_LEGACY_PROTOCOL_VERSION)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
				session = id
			}
			var m rpcMessage
			if body["id"] != nil {
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Fatalf("%v: content type %q", body["method"], ct)
				}
				if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
					t.Fatalf("%v: %v", body["method"], err)
				}
			}
			return resp.StatusCode, m
		}
		post(map[string]any{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": map[string]any{
			"protocolVersion": mcp.LATEST_LEGACY_PROTOCOL_VERSION, "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "raw-http", "version": "1"}}})
		post(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
		for i, tc := range cases {
			status, m := post(map[string]any{"jsonrpc": "2.0", "id": i + 1, "method": tc.method, "params": tc.params})
			if m.Error == nil || status != http.StatusOK {
				t.Errorf("%s: status %d, response %+v", tc.name, status, m)
				continue
			}
			checkErrorResponse(t, tc, m.Error.Code, m.Error.Message)
		}
	})

	t.Run("modern", func(t *testing.T) {
		c, err := client.NewStreamableHttpClient(url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION,
			ClientInfo: mcp.Implementation{Name: "modern-http", Version: "1"}}}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			if strings.HasPrefix(tc.name, "1 MiB") {
				continue // the modern transport mirrors the URI into a header: the HTTP server refuses it (431) before MCP sees it
			}
			var err error
			switch tc.method {
			case "resources/read":
				_, err = c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: tc.params["uri"].(string)}})
			case "prompts/get":
				args, _ := tc.params["arguments"].(map[string]string)
				_, err = c.GetPrompt(ctx, mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: tc.params["name"].(string), Arguments: args}})
			}
			if !errors.Is(err, mcp.ErrInvalidParams) {
				t.Errorf("%s: err = %v, want invalid params (-32602)", tc.name, err)
			}
		}
	})
}
