package mcpserver_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// BenchmarkGetSessionInProcess: one get_session round trip through the MCP
// server with the in-process client.
func BenchmarkGetSessionInProcess(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100}, &s)
	args := map[string]any{"session_id": s.SessionID}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := h.call("get_session", args); r.IsError {
			b.Fatal(text(r))
		}
	}
}

// BenchmarkGetSessionStdio: the same round trip over stdio to the built binary.
func BenchmarkGetSessionStdio(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "clinch-mcp")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/clinch-mcp").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "CLINCH_DATA_DIR="+b.TempDir(), "CLINCH_LOG_LEVEL=warn")
	c, err := client.NewStdioMCPClientWithOptions(bin, env, []string{"serve", "--store", "memory:"}, transport.WithCommandStderrWriter(discard{}))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: "bench", Version: "1"}}}); err != nil {
		b.Fatal(err)
	}
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "propose_deal", Arguments: map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100}}})
	if err != nil || res.IsError {
		b.Fatalf("propose: %v %s", err, text(res))
	}
	id := res.StructuredContent.(map[string]any)["session_id"].(string)
	req := mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "get_session", Arguments: map[string]any{"session_id": id}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r, err := c.CallTool(ctx, req); err != nil || r.IsError {
			b.Fatalf("get_session: %v", err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkFullDealStreamableHTTP: a whole deal (propose, four counters,
// approve with seller signature and registry countersignature) driven
// through the MCP tools over Streamable HTTP on loopback.
func BenchmarkFullDealStreamableHTTP(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	srv := mcpserver.New(&tools.Deps{Core: h.core, RegistryRootKey: h.market.RootKey, Logger: zerolog.Nop()}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	go func() {
		_ = mcpserver.ServeHTTP(ctx, srv, mcpserver.HTTPOptions{Addr: "127.0.0.1:0", Logger: zerolog.Nop(), Ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case <-time.After(10 * time.Second):
		b.Fatal("HTTP transport did not start")
	}
	c, err := client.NewStreamableHttpClient("http://" + addr + "/mcp")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: "bench", Version: "1"}}}); err != nil {
		b.Fatal(err)
	}
	call := func(name string, args map[string]any) map[string]any {
		r, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
		if err != nil || r.IsError {
			b.Fatalf("%s: %v %s", name, err, text(r))
		}
		return r.StructuredContent.(map[string]any)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := call("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100})
		id := s["session_id"].(string)
		for _, p := range []float64{60, 70, 80, 94} {
			s = call("counter", map[string]any{"session_id": id, "price": p})
		}
		if s["state"] != "CONFIRMED" {
			b.Fatalf("state %v", s["state"])
		}
		if a := call("approve_and_sign", map[string]any{"session_id": id}); a["verified"] != true {
			b.Fatal("artifact did not verify")
		}
	}
}
