// Package rules_test drives each safety rule through every entry point that
// can reach it — the CLI, each MCP tool over stdio, and autonomous mode — with
// the real clinch-mcp binary against a real market on loopback, and shows the
// same outcome everywhere. The market runs in this process so the tests can
// read what the sellers received.
package rules_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/ollama/ollama/api"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/demomarket"
	"github.com/clinch-protocol/clinch-mcp/test/testbin"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(&binary, m.Run) }

// startMarket runs the demo market in this process.
func startMarket(t *testing.T) *demomarket.Market {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := demomarket.Start(ctx, demomarket.Options{Difficulty: 4, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// baseEnv is the environment of every clinch-mcp process: a private data
// directory and home, and the market to use.
func baseEnv(t *testing.T, m *demomarket.Market) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CLINCH_DATA_DIR=" + t.TempDir(),
		"CLINCH_REGISTRY=" + m.RegistryURL, "CLINCH_REGISTRY_KEY=" + m.RootKey, "CLINCH_LOG_LEVEL=warn"}
}

// runCLI runs one clinch-mcp command to completion.
func runCLI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clinch-mcp %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// mcpServer is clinch-mcp serving MCP over stdio to an mcp-go client.
type mcpServer struct {
	t *testing.T
	c *client.Client
}

func startServer(t *testing.T, env []string, args ...string) *mcpServer {
	t.Helper()
	c, err := client.NewStdioMCPClient(binary, env, append([]string{"serve", "--transport", "stdio", "--store", "memory:"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION,
		ClientInfo: mcp.Implementation{Name: "rules-test", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	return &mcpServer{t: t, c: c}
}

// call calls a tool and decodes its structured result into out (when not
// nil). It fails the test on a protocol error or, unless wantErr, a tool error.
func (s *mcpServer) call(name string, args map[string]any, out any, wantErr bool) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := s.c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		s.t.Fatalf("%s: protocol error: %v", name, err)
	}
	var text string
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			text += tc.Text
		}
	}
	if r.IsError != wantErr {
		s.t.Fatalf("%s: isError %t, want %t: %s", name, r.IsError, wantErr, text)
	}
	if out != nil && !r.IsError {
		b, _ := json.Marshal(r.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s: decode result: %v", name, err)
		}
	}
	return text
}

// fakeOllama is an HTTP server speaking Ollama's API (/api/version,
// /api/tags, /api/show, /api/chat) whose chat answers come from a script.
type fakeOllama struct {
	url     string
	mu      sync.Mutex
	n       int
	prompts []string // every chat's messages, joined
}

const model = "qwen2.5:1.5b"

func newFakeOllama(t *testing.T, answer func(n int) map[string]any) *fakeOllama {
	f := &fakeOllama{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"version": "0.17.4"})
	})
	mux.HandleFunc("GET /api/tags", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, api.ListResponse{Models: []api.ListModelResponse{{Name: model, Model: model}}})
	})
	mux.HandleFunc("POST /api/show", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, api.ShowResponse{ModelInfo: map[string]any{"general.architecture": "qwen2", "qwen2.context_length": 32768}})
	})
	mux.HandleFunc("POST /api/chat", func(w http.ResponseWriter, r *http.Request) {
		var req api.ChatRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		var prompt strings.Builder
		for _, m := range req.Messages {
			prompt.WriteString(m.Content + "\n")
		}
		f.mu.Lock()
		n := f.n
		f.n++
		f.prompts = append(f.prompts, prompt.String())
		f.mu.Unlock()
		content, _ := json.Marshal(answer(n))
		writeJSON(w, api.ChatResponse{Model: model, CreatedAt: time.Now(), Done: true, DoneReason: "stop",
			Message: api.Message{Role: "assistant", Content: string(content)}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// buyerTexts returns every text the seller received from the buyer in a
// session: counter messages and cancel reasons.
func buyerTexts(t *testing.T, m *demomarket.Market, domain, sessionID string) []string {
	t.Helper()
	node, ok := m.Nodes[domain]
	if !ok {
		t.Fatalf("no seller %s in the market", domain)
	}
	envs, ok := node.Transcript(sessionID)
	if !ok {
		t.Fatalf("seller %s has no session %s", domain, sessionID)
	}
	var out []string
	for _, e := range envs {
		if e.From == node.PublicKey() {
			continue
		}
		var b struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(e.Body, &b); err != nil {
			t.Fatalf("%s body: %v", e.Type, err)
		}
		out = append(out, string(e.Type)+": "+b.Message)
	}
	return out
}

// chats returns the prompts of every chat so far.
func (f *fakeOllama) chats() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.prompts...)
}

// cliSession is the session `clinch-mcp negotiate --json` printed.
type cliSession struct {
	ID      string `json:"id"`
	Seller  string `json:"seller"`
	Address string `json:"address"`
	Mode    string `json:"mode"`
	State   string `json:"state"`
}

// negotiateCLI runs `clinch-mcp negotiate --json` with args and returns the
// session it printed.
func negotiateCLI(t *testing.T, env []string, args ...string) cliSession {
	t.Helper()
	out := runCLI(t, env, append(append([]string{"negotiate"}, args...), "--json")...)
	var res struct {
		Session cliSession `json:"session"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("negotiate --json: %v\n%s", err, out)
	}
	return res.Session
}

// cascadeSessions runs the cascade tool and returns each seller's session.
func (s *mcpServer) cascadeSessions(args map[string]any) []snapshot {
	s.t.Helper()
	var out struct {
		Outcomes []struct {
			Seller    string `json:"seller"`
			SessionID string `json:"session_id"`
		} `json:"outcomes"`
	}
	s.call("cascade", args, &out, false)
	if len(out.Outcomes) == 0 {
		s.t.Fatal("cascade negotiated with no seller")
	}
	var sessions []snapshot
	for _, o := range out.Outcomes {
		sessions = append(sessions, snapshot{SessionID: o.SessionID, Seller: o.Seller})
	}
	return sessions
}
