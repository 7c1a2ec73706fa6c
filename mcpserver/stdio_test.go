package mcpserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// rpcMessage is any JSON-RPC message read from the server.
type rpcMessage struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// rawStdio is an MCP client speaking raw JSON-RPC lines to mcpserver.ServeStdio
// over pipes: it sees every byte the server writes, in order.
type rawStdio struct {
	t      *testing.T
	w      io.Writer
	lines  chan string
	nextID int
}

// startStdio serves srv over in-process stdio pipes and initializes a
// session with protocol version 2025-11-25 (what the TypeScript SDK speaks).
func startStdio(t *testing.T, srv *mcpserver.Server) *rawStdio {
	t.Helper()
	clientR, serverW := io.Pipe()
	serverR, clientW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mcpserver.ServeStdio(ctx, srv, serverR, serverW, zerolog.Nop()) }()
	c := &rawStdio{t: t, w: clientW, lines: make(chan string, 64)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(clientR)
		sc.Buffer(make([]byte, 0, 1<<20), 8<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		clientW.Close()
		clientR.Close() // a write still pending on the server side fails instead of blocking
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeStdio: %v", err)
		}
	})
	var init struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	c.result(c.call("initialize", map[string]any{"protocolVersion": mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		"capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "raw-stdio-test", "version": "1"}}), &init)
	if init.ProtocolVersion != mcp.LATEST_LEGACY_PROTOCOL_VERSION {
		t.Fatalf("negotiated protocol %q", init.ProtocolVersion)
	}
	c.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	return c
}

func (c *rawStdio) send(msg any) {
	c.t.Helper()
	b, err := json.Marshal(msg)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.w.Write(append(b, '\n')); err != nil {
		c.t.Fatalf("write to the server: %v", err)
	}
}

// read returns the next message the server wrote.
func (c *rawStdio) read() rpcMessage {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			c.t.Fatal("the server closed stdout")
		}
		var m rpcMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			c.t.Fatalf("stdout carried a line that is not JSON-RPC: %q: %v", line, err)
		}
		return m
	case <-time.After(2 * time.Minute): // a bound against a hung server, not a timing assertion
		c.t.Fatal("no message from the server within 2 minutes")
	}
	return rpcMessage{}
}

// call sends a request and returns the messages the server wrote up to and
// including its response (the response is last).
func (c *rawStdio) call(method string, params any) []rpcMessage {
	c.t.Helper()
	c.nextID++
	id := fmt.Sprint(c.nextID)
	c.send(map[string]any{"jsonrpc": "2.0", "id": c.nextID, "method": method, "params": params})
	var seen []rpcMessage
	for {
		m := c.read()
		seen = append(seen, m)
		if m.Method == "" && string(m.ID) == id {
			return seen
		}
	}
}

// result decodes the result of the response ending msgs.
func (c *rawStdio) result(msgs []rpcMessage, out any) {
	c.t.Helper()
	resp := msgs[len(msgs)-1]
	if resp.Error != nil {
		c.t.Fatalf("error response %d: %s", resp.Error.Code, resp.Error.Message)
	}
	if err := json.Unmarshal(resp.Result, out); err != nil {
		c.t.Fatalf("result %s: %v", resp.Result, err)
	}
}

type progressParams struct {
	Token    string   `json:"progressToken"`
	Progress float64  `json:"progress"`
	Total    *float64 `json:"total"`
	Message  string   `json:"message"`
}

// callWithProgress calls a tool with a progress token and returns the
// progress notifications written before its result, and the result. Any
// other message before the result, a progress notification of another
// token (one arriving after its own call's result) included, fails the test.
func (c *rawStdio) callWithProgress(name string, args map[string]any, token string, result any) []progressParams {
	c.t.Helper()
	msgs := c.call("tools/call", map[string]any{"name": name, "arguments": args, "_meta": map[string]any{"progressToken": token}})
	c.result(msgs, result)
	var progress []progressParams
	for _, m := range msgs[:len(msgs)-1] {
		if m.Method != "notifications/progress" {
			c.t.Fatalf("%s: unexpected message before the result: %+v", token, m)
		}
		var p progressParams
		if err := json.Unmarshal(m.Params, &p); err != nil {
			c.t.Fatal(err)
		}
		if p.Token != token {
			c.t.Fatalf("%s: a progress notification of %q arrived after that call's result", token, p.Token)
		}
		progress = append(progress, p)
	}
	return progress
}

// cascadeResult is a cascade tools/call result.
type cascadeResult struct {
	IsError           bool                `json:"isError"`
	StructuredContent tools.CascadeOutput `json:"structuredContent"`
}

// checkCascadeProgress checks one notification per seller negotiated, with
// progress 1..n and total n on every one.
func checkCascadeProgress(t *testing.T, progress []progressParams, res cascadeResult) {
	t.Helper()
	n := len(res.StructuredContent.Outcomes)
	if len(progress) != n {
		t.Fatalf("%d progress notifications before the result, want %d (one per seller negotiated)", len(progress), n)
	}
	for k, p := range progress {
		switch {
		case p.Progress != float64(k+1):
			t.Fatalf("notification %d has progress %v", k, p.Progress)
		case p.Total == nil || *p.Total != float64(n):
			t.Fatalf("notification %d has total %v, want %d, the sellers negotiated", k, p.Total, n)
		case !strings.Contains(p.Message, ".anp: "):
			t.Fatalf("progress message %q", p.Message)
		}
	}
}

// TestStdioProgressPrecedesResult runs 100 cascades one after another over
// real stdio and reads every byte the server writes: each cascade's progress
// notifications must all come before its result (none after, none late into
// the next call), count one per seller negotiated, and carry that count as
// total, also when max_sellers is larger than the category.
func TestStdioProgressPrecedesResult(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	srv := mcpserver.New(&tools.Deps{Core: h.core, RegistryRootKey: h.market.RootKey, Logger: zerolog.Nop()}, zerolog.Nop())
	c := startStdio(t, srv)
	const runs = 100
	inOrder := 0
	for i := range runs {
		strategy, maxSellers := "parallel", 3
		if i%2 == 1 {
			strategy, maxSellers = "sequential", 10 // more than the 3 kitchen sellers
		}
		var res cascadeResult
		progress := c.callWithProgress("cascade", map[string]any{"category": "kitchen", "item": "Stand mixer", "max_budget": 100,
			"strategy": strategy, "max_sellers": maxSellers, "per_seller_timeout_seconds": 30}, fmt.Sprintf("cascade-%d", i), &res)
		if w := res.StructuredContent.Winner; res.IsError || len(res.StructuredContent.Outcomes) != 3 || w == nil || w.State != "CONFIRMED" {
			t.Fatalf("cascade %d (%s): %+v", i, strategy, res)
		}
		checkCascadeProgress(t, progress, res)
		inOrder++
	}
	// Nothing may trail the last result either.
	msgs := c.call("ping", map[string]any{})
	if len(msgs) != 1 {
		t.Fatalf("%d messages trailed the last cascade: %+v", len(msgs)-1, msgs[:len(msgs)-1])
	}
	t.Logf("%d/%d cascades over stdio: every progress notification before the result, total = sellers negotiated", inOrder, runs)
}
