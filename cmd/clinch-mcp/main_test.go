package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/sandbox"
	"github.com/clinch-protocol/clinch-mcp/secrets"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// syncBuffer is a goroutine-safe buffer for command output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func testEnv(t *testing.T, vars map[string]string) (*cliEnv, *syncBuffer, *syncBuffer) {
	out, errb := &syncBuffer{}, &syncBuffer{}
	dir := t.TempDir()
	return &cliEnv{stdin: strings.NewReader(""), stdout: out, stderr: errb, getenv: func(k string) string {
		if k == "CLINCH_DATA_DIR" {
			return dir
		}
		return vars[k]
	}}, out, errb
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			env, _, errb := testEnv(t, nil)
			err := run(context.Background(), env, []string{c.name, "--help"})
			if !errors.Is(err, errHelpShown) {
				t.Fatalf("--help: err = %v", err)
			}
			if !strings.Contains(errb.String(), "Usage: clinch-mcp "+c.name) {
				t.Fatalf("usage text missing:\n%s", errb.String())
			}
		})
	}
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	env, _, _ := testEnv(t, nil)
	var ee *exitError
	if err := run(context.Background(), env, []string{"nope"}); !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("unknown command: %v", err)
	}
	if err := run(context.Background(), env, []string{"negotiate", "--to", "ANP/X.kitchen-outlet.anp", "--item", "x", "--max-budget", "10"}); !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "ANP/") {
		t.Fatalf("bad address: %v", err)
	}
	if err := run(context.Background(), env, []string{"negotiate", "--to", "ANP/C.kitchen-outlet.anp", "--item", "x", "--max-budget", "10.001"}); !errors.As(err, &ee) || !strings.Contains(err.Error(), "decimals") {
		t.Fatalf("bad budget: %v", err)
	}
}

// TestNegotiateApproveVerify runs the terminal flow on the embedded demo
// market and checks the artifact with verify, then tampers with it.
func TestNegotiateApproveVerify(t *testing.T) {
	env, out, errb := testEnv(t, nil)
	art := filepath.Join(t.TempDir(), "deal.json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run(ctx, env, []string{"negotiate", "--to", "ANP/C.kitchen-outlet.anp", "--item", "Ninja Blender", "--max-budget", "100", "--auto", "--approve", "--out", art})
	if err != nil {
		t.Fatalf("negotiate: %v\nstderr:\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "SIGNED") || !strings.Contains(out.String(), "turn 3:") {
		t.Fatalf("negotiate output:\n%s", out.String())
	}
	if err := run(ctx, env, []string{"verify", art}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	var a map[string]any
	data, _ := os.ReadFile(art)
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	root := a["receipt"].(map[string]any)["root_key"].(string)
	if err := run(ctx, env, []string{"verify", art, "--registry-key", root}); err != nil {
		t.Fatalf("verify pinned: %v", err)
	}
	wrongRoot := strings.Repeat("ab", 32)
	for name, mutate := range map[string]func(){
		"price":     func() { a["deal"].(map[string]any)["price"].(map[string]any)["amount"] = 1 },
		"item":      func() { a["deal"].(map[string]any)["item"] = "Cheap Blender" },
		"leaf":      func() { a["receipt"].(map[string]any)["leaf_index"] = 7 },
		"notarized": func() { a["registry"].(map[string]any)["notarized_at"] = 1 },
	} {
		orig, _ := json.Marshal(a)
		mutate()
		bad, _ := json.Marshal(a)
		_ = json.Unmarshal(orig, &a)
		path := filepath.Join(t.TempDir(), name+".json")
		_ = os.WriteFile(path, bad, 0o600)
		var ee *exitError
		err := run(ctx, env, []string{"verify", path})
		if !errors.As(err, &ee) || ee.code != 1 || strings.Contains(err.Error(), "\n") {
			t.Errorf("tampered %s: err = %v, want exit 1 with one line", name, err)
		}
	}
	var ee *exitError
	if err := run(ctx, env, []string{"verify", art, "--registry-key", wrongRoot}); !errors.As(err, &ee) || !strings.Contains(err.Error(), "pinned") {
		t.Errorf("wrong pinned root: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRegistryAndSellerDaemons starts the registry and sellers as the real
// daemons over loopback and closes a deal through each seller: one whose
// endpoint is a bare host, and one set up from examples/seller.json (a copy
// with loopback addresses), whose endpoint has a path (/anp) that buyers'
// envelopes are relayed under.
func TestRegistryAndSellerDaemons(t *testing.T) {
	env, _, errb := testEnv(t, nil)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	regAddr := freeAddr(t)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := run(ctx, env, []string{"registry", "--addr", regAddr, "--db", filepath.Join(dir, "reg.db"), "--key-file", filepath.Join(dir, "reg.key"),
			"--difficulty", "6", "--allow-private-endpoints", "--log-level", "warn"}); err != nil {
			t.Errorf("registry: %v", err)
		}
	}()
	waitHTTP(t, "http://"+regAddr+"/healthz")
	root, err := secrets.LoadIdentityFile(filepath.Join(dir, "reg.key"))
	if err != nil {
		t.Fatal(err)
	}
	rootKey := anp.PublicKeyHex(root.Public().(ed25519.PublicKey))

	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "seller.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// config returns the seller config for the listen address and key file.
		config func(t *testing.T, listen, keyFile string) (cfg map[string]any, domain string)
	}{
		{"endpoint without a path", func(t *testing.T, listen, keyFile string) (map[string]any, string) {
			return map[string]any{"domain": "daemon-shop.anp", "key_file": keyFile, "registry": "http://" + regAddr, "listen": listen,
				"endpoint": "http://" + listen, "categories": []string{"kitchen"},
				"policy": map[string]any{"currency": "USD", "list": "100", "floor": "70", "exponent": 1, "max_turns": 6}}, "daemon-shop.anp"
		}},
		{"examples/seller.json", func(t *testing.T, listen, keyFile string) (map[string]any, string) {
			var cfg map[string]any
			if err := json.Unmarshal(example, &cfg); err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(cfg["endpoint"].(string))
			if err != nil || strings.Trim(u.Path, "/") == "" {
				t.Fatalf("examples/seller.json's endpoint %v has no path, which this case is about", cfg["endpoint"])
			}
			u.Scheme, u.Host = "http", listen // same path, on loopback
			cfg["endpoint"], cfg["listen"], cfg["key_file"], cfg["registry"] = u.String(), listen, keyFile, "http://"+regAddr
			return cfg, cfg["domain"].(string)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keyFile := filepath.Join(t.TempDir(), "seller.key")
			if err := run(ctx, env, []string{"keygen", "--out", keyFile}); err != nil {
				t.Fatal(err)
			}
			cfg, domain := tc.config(t, freeAddr(t), keyFile)
			genv, gout, _ := testEnv(t, nil) // the operator issues the domain's enrolment grant
			if err := run(ctx, genv, []string{"registry", "grant", domain, "--key-file", filepath.Join(dir, "reg.key"), "--ttl", "1h"}); err != nil {
				t.Fatalf("registry grant: %v", err)
			}
			delete(cfg, "grant_file")
			cfg["grant"] = strings.TrimSpace(gout.String())
			data, _ := json.Marshal(cfg)
			cfgPath := filepath.Join(t.TempDir(), "seller.json")
			if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
				t.Fatal(err)
			}
			state := t.TempDir()
			sctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			defer func() { stop(); <-done }()
			go func() {
				defer close(done)
				if err := run(sctx, env, []string{"seller", "--config", cfgPath, "--registry-key", rootKey, "--state-dir", state, "--log-level", "warn"}); err != nil {
					t.Errorf("seller: %v", err)
				}
			}()
			denv, dout, _ := testEnv(t, nil)
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(dout.String(), domain) {
				if time.Now().After(deadline) {
					t.Fatalf("seller never listed; stderr:\n%s", errb.String())
				}
				time.Sleep(100 * time.Millisecond)
				_ = run(ctx, denv, []string{"discover", "--registry", "http://" + regAddr, "--json"})
			}
			art := filepath.Join(t.TempDir(), "deal.json")
			if err := run(ctx, denv, []string{"negotiate", "--registry", "http://" + regAddr, "--to", "ANP/C." + domain, "--item", "Pan",
				"--max-budget", "110", "--auto", "--approve", "--out", art}); err != nil {
				t.Fatalf("negotiate via the %s seller: %v", tc.name, err)
			}
			if err := run(ctx, denv, []string{"verify", art}); err != nil {
				t.Fatal(err)
			}
			// The seller remembers the session id of the PROPOSE in its state directory.
			if used, err := os.ReadFile(filepath.Join(state, "used-sessions.log")); err != nil || len(used) != 32+1+13+1 {
				t.Fatalf("the seller's state: %q, %v", used, err)
			}
		})
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.Split(url, "/healthz")[0], "http://"), 200*time.Millisecond); err == nil {
			conn.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never came up", url)
}

func TestDoctorNamesThePullCommand(t *testing.T) {
	env, out, _ := testEnv(t, map[string]string{"OLLAMA_HOST": "http://127.0.0.1:1"})
	if err := run(context.Background(), env, []string{"doctor"}); err != nil {
		t.Fatalf("doctor: %v", err)
	}
	for _, want := range []string{"identity:", "ollama: not reachable at http://127.0.0.1:1", "ollama pull qwen2.5:1.5b", "strategy"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchNegotiate(t *testing.T) {
	env, out, _ := testEnv(t, nil)
	if err := run(context.Background(), env, []string{"bench", "negotiate", "--scenarios", "240", "--seed", "3", "--split", "tuned"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Split tuned, seed 3, 240 scenarios", "strategy:adaptive", "strategy:boulware", "baseline:accept-first", "| walk-away |", "| bluffer |"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("bench output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(context.Background(), env, []string{"bench", "negotiate", "--split", "both"}); err == nil {
		t.Fatal("bench accepted an unknown split")
	}
}

// TestNegotiateTakesABareDomain: the CLI no longer refuses a bare domain
// before the engine sees it (the tools accept one too, as ANP/C). Until the
// engine takes bare domains itself, the refusal must come from the engine
// (after "propose:"), never from the CLI's own checks.
func TestNegotiateTakesABareDomain(t *testing.T) {
	env, out, _ := testEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run(ctx, env, []string{"negotiate", "--to", "kitchen-outlet.anp", "--item", "Ninja Blender", "--max-budget", "100", "--auto", "--approve", "--sandbox", "strategy"})
	if err != nil || !strings.Contains(out.String(), "SIGNED") {
		t.Fatalf("negotiate with a bare domain: %v\n%s", err, out.String())
	}
}

// TestNegotiateWithoutAutoSaysWhatNext: without --auto the command prints
// the seller's answer and a follow-up command line that works as printed.
func TestNegotiateWithoutAutoSaysWhatNext(t *testing.T) {
	env, out, _ := testEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"negotiate", "--to", "ANP/C.kitchen-outlet.anp", "--item", "Ninja 'Pro' Blender", "--max-budget", "100", "--sandbox", "strategy"}
	if err := run(ctx, env, args); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"COUNTERED after 1 turn;", "the seller asks 120.00 USD", "memory only", "--auto", "--approve", "clinch-mcp serve"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	var rerun string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, "  clinch-mcp negotiate ") {
			rerun = strings.TrimSpace(line)
		}
	}
	words := shellWords(t, rerun)
	if len(words) < 3 || words[len(words)-1] != "--auto" || !slices.Contains(words, "Ninja 'Pro' Blender") {
		t.Fatalf("no follow-up command (or the item did not survive quoting) in:\n%s", text)
	}
	env2, out2, _ := testEnv(t, nil)
	if err := run(ctx, env2, words[1:]); err != nil {
		t.Fatalf("the printed command %q: %v", rerun, err)
	}
	if !strings.Contains(out2.String(), "kitchen-outlet.anp: CONFIRMED") {
		t.Fatalf("the printed command did not negotiate to a deal:\n%s", out2.String())
	}

	// With --json, stdout stays one JSON document and the advice goes to stderr.
	env3, out3, err3 := testEnv(t, nil)
	if err := run(ctx, env3, append(args, "--json")); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out3.String()), &doc); err != nil {
		t.Fatalf("--json stdout is not one JSON document: %v\n%s", err, out3.String())
	}
	if !strings.Contains(err3.String(), "--auto") {
		t.Errorf("--json: no advice on stderr:\n%s", err3.String())
	}
}

// shellWords splits a command line quoted by shellQuote.
func shellWords(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestHelpTexts: --auto names its decider, discover's default limit is the
// tool's, serve --help names every environment variable the README does,
// and bench --help explains every column of the table it prints.
func TestHelpTexts(t *testing.T) {
	help := func(args ...string) string {
		t.Helper()
		env, _, errb := testEnv(t, nil)
		if err := run(context.Background(), env, append(args, "--help")); !errors.Is(err, errHelpShown) {
			t.Fatalf("%v --help: %v", args, err)
		}
		return errb.String()
	}
	neg := help("negotiate")
	for _, want := range []string{"--sandbox", "Ollama", sandbox.DefaultModel, "adaptive"} {
		if !strings.Contains(neg, want) {
			t.Errorf("negotiate --help does not say which decider --auto uses (%q missing):\n%s", want, neg)
		}
	}
	if want := fmt.Sprintf("(default %d)", tools.DefaultDiscoverLimit); !strings.Contains(help("discover"), want) {
		t.Errorf("discover --limit default is not the tool's %s:\n%s", want, help("discover"))
	}

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	serve := help("serve")
	vars := regexp.MustCompile(`\b(?:CLINCH|OLLAMA|XDG)_[A-Z_]+\b`).FindAllString(string(readme), -1)
	if len(vars) < 10 {
		t.Fatalf("found only %d environment variables in the README", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(serve, v) {
			t.Errorf("serve --help does not list %s, which the README names", v)
		}
	}

	env, out, _ := testEnv(t, nil)
	if err := run(context.Background(), env, []string{"bench", "negotiate", "--scenarios", "20"}); err != nil {
		t.Fatal(err)
	}
	bench := help("bench")
	if help("bench", "negotiate") == "" {
		t.Fatal("bench negotiate --help printed nothing")
	}
	headers := 0
	for line := range strings.SplitSeq(out.String(), "\n") {
		if !strings.HasPrefix(line, "| buyer |") {
			continue
		}
		for col := range strings.SplitSeq(strings.Trim(line, "| "), "|") {
			headers++
			if col = strings.TrimSpace(col); col != "buyer" && !strings.Contains(bench, col) {
				t.Errorf("bench --help does not explain the column %q", col)
			}
		}
	}
	if headers < 10 {
		t.Fatalf("found %d column headers in the bench output:\n%s", headers, out.String())
	}
}
