// Package cluster_test runs clinch-mcp as real processes — registry, seller
// nodes and MCP servers — and kills and restarts them to prove that nothing
// is lost and that several MCP pods can share sessions.
package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/clinch-protocol/clinch-mcp/test/testbin"
	"github.com/mark3labs/mcp-go/mcp"
)

var binary string

func TestMain(m *testing.M) { testbin.Main(&binary, m.Run) }

// proc is one running clinch-mcp process.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
}

// start runs the binary with args and env (on top of a minimal environment).
func start(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	p.cmd.Stdin = nil
	pr, pw := io.Pipe()
	p.cmd.Stderr = pw
	p.cmd.Stdout = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() { _ = p.cmd.Wait(); pw.Close(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// kill sends SIGKILL (a crash, no cleanup) and waits for the exit.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitFor waits until the output matches re and returns the first group.
func (p *proc) waitFor(re *regexp.Regexp) string {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
		select {
		case <-p.done:
			p.t.Fatalf("%s exited early:\n%s", p.name, p.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.t.Fatalf("%s never printed %s:\n%s", p.name, re, p.output())
	return ""
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// market is a registry daemon and seller daemons as processes.
type market struct {
	registryURL string
	rootKey     string
	dir         string
	regAddr     string
	db          string // ledger URL; default a SQLite file in dir
	registry    *proc
	// registryArgs are extra flags of the registry daemon (limits a test
	// needs changed).
	registryArgs []string
}

var rootKeyRe = regexp.MustCompile(`"root_key":"([0-9a-f]{64})"`)

func (m *market) startRegistry(t *testing.T) {
	db := m.db
	if db == "" {
		db = filepath.Join(m.dir, "registry.db")
	}
	args := append([]string{"registry", "--addr", m.regAddr, "--db", db,
		"--key-file", filepath.Join(m.dir, "registry.key"), "--difficulty", "8", "--open-enrollment", "--allow-private-endpoints", "--log-level", "info"}, m.registryArgs...)
	m.registry = start(t, "registry", nil, args...)
	m.rootKey = m.registry.waitFor(rootKeyRe)
	waitTCP(t, m.regAddr)
}

func startMarket(t *testing.T, sellers ...sellerSpec) *market {
	t.Helper()
	m := &market{dir: t.TempDir(), regAddr: freeAddr(t)}
	m.registryURL = "http://" + m.regAddr
	m.startRegistry(t)
	for _, s := range sellers {
		m.startSeller(t, s)
	}
	return m
}

func (m *market) startSeller(t *testing.T, s sellerSpec) *proc {
	t.Helper()
	keyFile := filepath.Join(m.dir, s.domain+".key")
	if out, err := exec.Command(binary, "keygen", "--out", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v %s", err, out)
	}
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`{"domain":%q,"key_file":%q,"registry":%q,"listen":%q,"endpoint":"http://%s","categories":["kitchen"],"async":%t,"async_delay":%q,"demo":true,
		"policy":{"currency":"USD","list":"120","floor":"78","exponent":0.5,"max_turns":6}}`, s.domain, keyFile, m.registryURL, addr, addr, s.async, s.delay)
	path := filepath.Join(m.dir, s.domain+".json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"seller", "--config", path, "--log-level", "info"}
	if s.stateDir != "" {
		args = append(args, "--state-dir", s.stateDir)
	}
	sp := start(t, "seller "+s.domain, nil, args...)
	sp.waitFor(regexp.MustCompile(`seller node registered`))
	return sp
}

type sellerSpec struct {
	domain string
	async  bool
	delay  string // async answer delay, e.g. "1500ms"
	// stateDir is the seller's --state-dir (its admin.json for `clinch-mcp
	// fulfil`); "" takes the default in the process's data directory.
	stateDir string
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never accepted connections", addr)
}

var listenRe = regexp.MustCompile(`clinch-mcp: listening on (127\.0\.0\.1:\d+)`)

// pod is one `clinch-mcp serve --transport http` process and its MCP client.
type pod struct {
	t    *testing.T
	proc *proc
	c    *client.Client
}

func startPod(t *testing.T, name string, m *market, keyFile, store string, extra ...string) *pod {
	t.Helper()
	args := append([]string{"serve", "--transport", "http", "--addr", "127.0.0.1:0", "--registry", m.registryURL, "--registry-key", m.rootKey,
		"--key-file", keyFile, "--store", store, "--log-level", "debug"}, extra...)
	p := start(t, name, []string{"CLINCH_DATA_DIR=" + t.TempDir()}, args...)
	addr := p.waitFor(listenRe)
	c, err := client.NewStreamableHttpClient("http://" + addr + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, ClientInfo: mcp.Implementation{Name: name, Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &pod{t: t, proc: p, c: c}
}

func (p *pod) call(name string, args map[string]any) *mcp.CallToolResult {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := p.c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		p.t.Fatalf("%s %s: protocol error: %v\n%s", p.proc.name, name, err, p.proc.output())
	}
	return r
}

func (p *pod) ok(name string, args map[string]any) map[string]any {
	p.t.Helper()
	r := p.call(name, args)
	if r.IsError {
		p.t.Fatalf("%s %s(%v): %s", p.proc.name, name, args, resultText(r))
	}
	return r.StructuredContent.(map[string]any)
}

func resultText(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func newKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "identity.key")
	if out, err := exec.Command(binary, "keygen", "--out", path).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v %s", err, out)
	}
	return path
}
