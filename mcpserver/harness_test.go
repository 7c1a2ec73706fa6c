package mcpserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/secrets"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

type harness struct {
	t        testing.TB
	market   *demomarket.Market
	core     *buyer.Core
	identity ed25519.PrivateKey
	client   *client.Client
	logs     *lockedWriter
	srv      *mcpserver.Server
}

type harnessOpts struct {
	identity ed25519.PrivateKey
	blind    map[string]string
	decider  buyer.Decider
	// autoApproveBelow is the engine's auto-approve ceiling (nil: off).
	autoApproveBelow *anp.Money
	// root and ledger, when set, are the market registry's; transport
	// carries the buyer's registry requests.
	root      ed25519.PrivateKey
	ledger    store.Ledger
	transport http.RoundTripper
	// asyncRelease, when set, holds every asynchronous seller's answer
	// until the test sends on it.
	asyncRelease <-chan struct{}
	// history starts the market with its seeded history; minTrust is the
	// engine's reputation floor.
	history  bool
	minTrust float64
}

func newHarness(t testing.TB, o harnessOpts) *harness { return newHarnessWith(t, o, nil) }

func newHarnessWith(t testing.TB, o harnessOpts, sellers []demomarket.SellerSpec) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := demomarket.Start(ctx, demomarket.Options{Sellers: sellers, Difficulty: 4, AsyncDelay: 20 * time.Millisecond, Logger: zerolog.Nop(),
		Root: o.root, Ledger: o.ledger, AsyncRelease: o.asyncRelease, History: o.history})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	if o.identity == nil {
		_, o.identity, _ = ed25519.GenerateKey(rand.Reader)
	}
	if o.blind == nil {
		o.blind = demomarket.DemoCredentials(nil)
	}
	bk, err := secrets.NewBlindKeys(o.blind)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedWriter{b: &strings.Builder{}}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	core, err := buyer.New(buyer.Config{Identity: o.identity, BlindKeys: bk, Logger: log, AutoApproveBelow: o.autoApproveBelow, MinTrust: o.minTrust,
		Registry: registry.NewClient(m.RegistryURL, o.identity, registry.ClientOptions{RootKey: m.RootKey, Logger: log,
			HTTP: &http.Client{Timeout: 30 * time.Second, Transport: o.transport}})})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(core.Close)
	red := secrets.NewRedactor(hex.EncodeToString(o.identity.Seed()))
	red.Add(bk.Values()...)
	srv := mcpserver.New(&tools.Deps{Core: core, Decider: o.decider, RegistryRootKey: m.RootKey, Secrets: tools.NewSecretFilter(red), Logger: log}, log)
	c, err := client.NewInProcessClient(srv.MCPServer)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: "test", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &harness{t: t, market: m, core: core, identity: o.identity, client: c, logs: logs, srv: srv}
}

// call runs a tool and returns its result; protocol errors fail the test.
func (h *harness) call(name string, args map[string]any) *mcp.CallToolResult {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := h.client.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		h.t.Fatalf("%s: protocol error (domain failures must be tool errors): %v", name, err)
	}
	return res
}

// ok runs a tool that must succeed and decodes its structured content.
func (h *harness) ok(name string, args map[string]any, out any) *mcp.CallToolResult {
	h.t.Helper()
	res := h.call(name, args)
	if res.IsError {
		h.t.Fatalf("%s(%v) failed: %s", name, args, text(res))
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, out); err != nil {
		h.t.Fatalf("%s: structured content %s: %v", name, b, err)
	}
	return res
}

// fail runs a tool that must fail with a tool error starting with code.
func (h *harness) fail(name string, args map[string]any, code string) string {
	h.t.Helper()
	res := h.call(name, args)
	if !res.IsError {
		h.t.Fatalf("%s(%v) succeeded, want %s", name, args, code)
	}
	if !strings.HasPrefix(text(res), code+":") {
		h.t.Fatalf("%s(%v) error = %q, want code %s", name, args, text(res), code)
	}
	return text(res)
}

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if t, ok := c.(mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

type snap = tools.SessionSnapshot

// confirmed negotiates kitchen-outlet.anp to CONFIRMED at 94.00 through the tools.
func (h *harness) confirmed() snap {
	h.t.Helper()
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "ANP/C.kitchen-outlet.anp", "item": "Ninja Blender", "max_budget": 100}, &s)
	for _, p := range []float64{60, 70, 80, 94} {
		h.ok("counter", map[string]any{"session_id": s.SessionID, "price": p}, &s)
	}
	if s.State != "CONFIRMED" {
		h.t.Fatalf("state %s after the recipe", s.State)
	}
	return s
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (h *harness) logText() string {
	h.logs.mu.Lock()
	defer h.logs.mu.Unlock()
	return h.logs.b.String()
}

func strategyDecider() buyer.Decider { return concession.Default() }

func usdMoney(major float64) *anp.Money {
	m, _ := anp.FromMajor(major, "USD")
	return &m
}

// inProcess starts an in-process client on srv.
func inProcess(t testing.TB, srv *server.MCPServer) *client.Client {
	t.Helper()
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: "test", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func callOK(t testing.TB, c *client.Client, name string, args map[string]any, out any) {
	t.Helper()
	res, err := c.CallTool(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil || res.IsError {
		t.Fatalf("%s: %v %s", name, err, text(res))
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}
