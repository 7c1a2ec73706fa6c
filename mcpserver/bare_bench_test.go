package mcpserver_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// bareResultEnv names the file of a recorded get_session result; with it
// set, the test binary runs as the bare baseline server (TestMain).
const bareResultEnv = "CLINCH_BENCH_BARE_RESULT"

func TestMain(m *testing.M) {
	if path := os.Getenv(bareResultEnv); path != "" {
		if err := serveBare(path); err != nil {
			os.Stderr.WriteString("bare server: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// recordedResult is what the bare server answers: the text and structured
// content of a real get_session result, byte for byte.
type recordedResult struct {
	Text       string          `json:"text"`
	Structured json.RawMessage `json:"structured"`
}

// serveBare serves, over stdio, a bare mcp-go server with one tool,
// get_session, that returns the recorded result.
func serveBare(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rec recordedResult
	if err := json.Unmarshal(raw, &rec); err != nil {
		return err
	}
	s := server.NewMCPServer("bare", "1", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("get_session", mcp.WithString("session_id")), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(rec.Text)}, StructuredContent: rec.Structured}, nil
	})
	return server.ServeStdio(s)
}

func startStdioClient(b *testing.B, bin string, env, args []string) *client.Client {
	c, err := client.NewStdioMCPClientWithOptions(bin, env, args, transport.WithCommandStderrWriter(discard{}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	if _, err := c.Initialize(context.Background(), mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: "bench", Version: "1"}}}); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkGetSessionStdioVsBare: get_session over stdio to the built
// binary, interleaved, in the same run and with the same client, with a
// bare mcp-go server (this test binary re-executed) whose one tool returns
// the same bytes. It reports both medians and their ratio.
func BenchmarkGetSessionStdioVsBare(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "clinch-mcp")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/clinch-mcp").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	ctx := context.Background()
	env := append(os.Environ(), "CLINCH_DATA_DIR="+b.TempDir(), "CLINCH_LOG_LEVEL=warn")
	clinch := startStdioClient(b, bin, env, []string{"serve", "--store", "memory:"})
	res, err := clinch.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "propose_deal", Arguments: map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100}}})
	if err != nil || res.IsError {
		b.Fatalf("propose: %v %s", err, text(res))
	}
	id := res.StructuredContent.(map[string]any)["session_id"].(string)
	req := mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "get_session", Arguments: map[string]any{"session_id": id}}}
	got, err := clinch.CallTool(ctx, req)
	if err != nil || got.IsError {
		b.Fatalf("get_session: %v", err)
	}
	structured, err := json.Marshal(got.StructuredContent)
	if err != nil {
		b.Fatal(err)
	}
	rec, _ := json.Marshal(recordedResult{Text: text(got), Structured: structured})
	path := filepath.Join(b.TempDir(), "result.json")
	if err := os.WriteFile(path, rec, 0o600); err != nil {
		b.Fatal(err)
	}
	bare := startStdioClient(b, os.Args[0], append(os.Environ(), bareResultEnv+"="+path), nil)
	if r, err := bare.CallTool(ctx, req); err != nil || text(r) != text(got) {
		b.Fatalf("bare get_session differs: %v", err)
	}
	var clinchT, bareT []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clinchT = append(clinchT, timeCall(b, clinch, req))
		bareT = append(bareT, timeCall(b, bare, req))
	}
	b.StopTimer()
	rm, bm := median(clinchT), median(bareT)
	b.ReportMetric(float64(rm.Microseconds()), "clinch-µs-median")
	b.ReportMetric(float64(bm.Microseconds()), "bare-µs-median")
	b.ReportMetric(float64(rm)/float64(bm), "clinch/bare")
}

func timeCall(b *testing.B, c *client.Client, req mcp.CallToolRequest) time.Duration {
	start := time.Now()
	r, err := c.CallTool(context.Background(), req)
	d := time.Since(start)
	if err != nil || r.IsError {
		b.Fatalf("get_session: %v", err)
	}
	return d
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
