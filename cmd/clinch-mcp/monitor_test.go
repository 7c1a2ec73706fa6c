package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/registry/registrytest"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

func leaves(prefix string, n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, fmt.Appendf(nil, "%s %d", prefix, i))
	}
	return out
}

// TestMonitorFollowsTheLogAndExitsOnAFork runs monitor --once against a
// registry (2 entries) whose log then grows consistently (a twin with the
// same 2 entries and 2 more) and then forks (a twin with 6 other entries,
// signed with the same keys): the growth is printed, the fork exits with
// code 3 naming both heads, and a later run against the honest registry
// still reports the fork from the data directory.
func TestMonitorFollowsTheLogAndExitsOnAFork(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	ledger := memstore.NewLedger()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, l := range leaves("honest", 2) {
		if _, err := ledger.Append(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	m, err := demomarket.Start(ctx, demomarket.Options{Sellers: []demomarket.SellerSpec{}, Difficulty: 4, Logger: zerolog.Nop(), Root: root, Ledger: ledger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	grown := registrytest.Twin(t, root, ledger, leaves("honest", 4))
	forked := registrytest.Twin(t, root, ledger, leaves("forked", 6))
	sw := &registrytest.LogSwitch{}
	proxy := sw.Proxy(t, m.RegistryURL)

	env, out, _ := testEnv(t, map[string]string{"OLLAMA_HOST": "http://127.0.0.1:1"})
	monitor := func() error {
		return run(ctx, env, []string{"monitor", "--registry", proxy.URL, "--registry-key", m.RootKey, "--once"})
	}
	doctor := func() error {
		return run(ctx, env, []string{"doctor", "--registry", proxy.URL, "--registry-key", m.RootKey})
	}
	if err := monitor(); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if err := doctor(); err != nil || !strings.Contains(out.String(), "registry log: ok ("+proxy.URL+": latest head size 2 root ") {
		t.Fatalf("doctor on a consistent log: %v\n%s", err, out)
	}
	sw.Set(grown)
	if err := monitor(); err != nil {
		t.Fatalf("consistent growth: %v\n%s", err, out)
	}
	for _, want := range []string{"head size 2 root ", "(first head seen)", "remembered size 2 root ", "head size 4 root ", "(consistent with size 2)"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	sw.Set(forked)
	err = monitor()
	var ee *exitError
	var fe *registry.ForkError
	if !errors.As(err, &ee) || ee.code != exitFork || !errors.As(err, &fe) {
		t.Fatalf("forked log: err = %v, want exit code %d with a ForkError", err, exitFork)
	}
	if fe.Alarm.Remembered.Size != 4 || fe.Alarm.Seen.Size != 6 {
		t.Fatalf("alarm = %+v, want size 4 against size 6", fe.Alarm)
	}
	for _, h := range []string{registry.DescribeHead(&fe.Alarm.Remembered), registry.DescribeHead(&fe.Alarm.Seen)} {
		if !strings.Contains(err.Error(), h) || !strings.Contains(out.String(), h) {
			t.Errorf("the fork's error and output must name %s:\n%v\n%s", h, err, out)
		}
	}
	sw.Set(nil) // honest again: the remembered alarm still fails the run
	if err := monitor(); !errors.As(err, &ee) || ee.code != exitFork {
		t.Fatalf("after the fork: err = %v, want exit code %d", err, exitFork)
	}
	out.mu.Lock()
	out.b.Reset()
	out.mu.Unlock()
	if err := doctor(); !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("doctor after the fork: err = %v, want exit code 1", err)
	}
	for _, want := range []string{"registry log: PROBLEM: FORK of " + proxy.URL, "remembered " + registry.DescribeHead(&fe.Alarm.Remembered), "seen       " + registry.DescribeHead(&fe.Alarm.Seen), "the alarm is kept in " + headStoreFor(env.getenv("CLINCH_DATA_DIR"), proxy.URL).path} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}

// TestMonitorWatchListsVerifiedDeals: two deals are made through a real
// registry whose log starts with one entry that is no deal; monitor
// --watch reads every entry, rebuilds the tree, and prints the one deal of
// the watched domain, verified. A proxy that changes one byte of an entry
// makes the rebuilt root differ from the signed head: exit code 4.
func TestMonitorWatchListsVerifiedDeals(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	ledger := memstore.NewLedger()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := ledger.Append(ctx, []byte("not a deal")); err != nil {
		t.Fatal(err)
	}
	m, err := demomarket.Start(ctx, demomarket.Options{Difficulty: 4, AsyncDelay: 20 * time.Millisecond, Logger: zerolog.Nop(), Root: root, Ledger: ledger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	env, out, errb := testEnv(t, nil)
	for _, to := range []string{"ANP/C.kitchen-outlet.anp", "ANP/C.chef-supply.anp"} {
		err := run(ctx, env, []string{"negotiate", "--registry", m.RegistryURL, "--registry-key", m.RootKey, "--to", to, "--item", "Ninja Blender", "--max-budget", "100", "--auto", "--approve"})
		if err != nil {
			t.Fatalf("negotiate with %s: %v\n%s", to, err, errb)
		}
	}
	out.mu.Lock()
	out.b.Reset()
	out.mu.Unlock()
	monitor := func(base string) error {
		return run(ctx, env, []string{"monitor", "--registry", base, "--registry-key", m.RootKey, "--once", "--watch", "kitchen-outlet.anp", "--state", "memory:"})
	}
	if err := monitor(m.RegistryURL); err != nil {
		t.Fatalf("monitor --watch: %v\n%s", err, out)
	}
	sellers := len(demomarket.DefaultSellers()) // each seller's binding is a key event in the log
	if !strings.Contains(out.String(), fmt.Sprintf("head size %d root ", 3+sellers)) ||
		!regexp.MustCompile(fmt.Sprintf(`deal %d: kitchen-outlet\.anp sold 1 x "Ninja Blender" for [0-9.]+ USD \(session [0-9a-f]{32}, buyer key [0-9a-f]{12}…\) verified`, 1+sellers)).MatchString(out.String()) ||
		!regexp.MustCompile(`key event 0 of kitchen-outlet\.anp at log index [0-9]+: bind [0-9a-f]{12}… \(grant [0-9a-f]{32}\) verified`).MatchString(out.String()) {
		t.Fatalf("monitor --watch output:\n%s", out)
	}
	if strings.Contains(out.String(), "chef-supply") {
		t.Fatalf("a deal of another domain was printed:\n%s", out)
	}

	u, _ := url.Parse(m.RegistryURL)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path != anp.RouteEntries {
			return nil
		}
		var er anp.EntriesResponse
		if err := json.NewDecoder(r.Body).Decode(&er); err != nil {
			return err
		}
		r.Body.Close()
		er.Entries[0][0] ^= 1
		data, _ := json.Marshal(er)
		r.Body = io.NopCloser(bytes.NewReader(data))
		r.ContentLength = int64(len(data))
		r.Header.Set("Content-Length", strconv.Itoa(len(data)))
		return nil
	}
	lying := httptest.NewServer(rp)
	t.Cleanup(lying.Close)
	var ee *exitError
	if err := monitor(lying.URL); !errors.As(err, &ee) || ee.code != exitEntries || !strings.Contains(err.Error(), fmt.Sprintf("size %d root ", 3+sellers)) {
		t.Fatalf("tampered entries: err = %v, want exit code %d naming the head", err, exitEntries)
	}
}
