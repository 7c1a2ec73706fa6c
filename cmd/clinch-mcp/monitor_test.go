package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
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

// startMarket starts a demo market with opt, proof-of-work difficulty 4
// and no log output; it is closed when the test ends.
func startMarket(ctx context.Context, t *testing.T, opt demomarket.Options) *demomarket.Market {
	t.Helper()
	opt.Difficulty, opt.Logger = 4, zerolog.Nop()
	m, err := demomarket.Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// negotiateWith closes one deal for a blender with the seller at address
// to through the negotiate command (--auto --approve); errb is env's
// stderr, shown when it fails.
func negotiateWith(ctx context.Context, t *testing.T, env *cliEnv, errb fmt.Stringer, m *demomarket.Market, to string) {
	t.Helper()
	if err := run(ctx, env, []string{"negotiate", "--registry", m.RegistryURL, "--registry-key", m.RootKey, "--to", to, "--item", "Ninja Blender", "--max-budget", "100", "--auto", "--approve"}); err != nil {
		t.Fatalf("negotiate with %s: %v\n%s", to, err, errb)
	}
}

// logMarket is a registry without sellers whose log starts with given
// leaves (stored without their tree nodes, hashed at its start), signing
// with root; its ledger is shared with twins.
type logMarket struct {
	m      *demomarket.Market
	root   ed25519.PrivateKey
	ledger *memstore.Ledger
}

func startLogMarket(ctx context.Context, t *testing.T, first [][]byte) *logMarket {
	t.Helper()
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	ledger := memstore.NewLedger()
	for _, l := range first {
		if _, err := ledger.Append(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	m := startMarket(ctx, t, demomarket.Options{Sellers: []demomarket.SellerSpec{}, Root: root, Ledger: ledger})
	return &logMarket{m: m, root: root, ledger: ledger}
}

// twin starts a registry with the same keys and a log of its own.
func (lm *logMarket) twin(t *testing.T, log [][]byte) *httptest.Server {
	return registrytest.Twin(t, lm.root, lm.ledger, log)
}

// TestMonitorFollowsTheLogAndExitsOnAFork runs monitor --once against a
// registry (2 entries) whose log then grows consistently (a twin with the
// same 2 entries and 2 more) and then forks (a twin with 6 other entries,
// signed with the same keys): the growth is printed, the fork exits with
// code 3 naming both heads, and a later run against the honest registry
// still reports the fork from the data directory.
func TestMonitorFollowsTheLogAndExitsOnAFork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lm := startLogMarket(ctx, t, leaves("honest", 2))
	m := lm.m
	grown := lm.twin(t, leaves("honest", 4))
	forked := lm.twin(t, leaves("forked", 6))
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
	err := monitor()
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
	m := startMarket(ctx, t, demomarket.Options{AsyncDelay: 20 * time.Millisecond, Root: root, Ledger: ledger})
	env, out, errb := testEnv(t, nil)
	for _, to := range []string{"ANP/C.kitchen-outlet.anp", "ANP/C.chef-supply.anp"} {
		negotiateWith(ctx, t, env, errb, m, to)
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

	lying := tamperProxy(t, m.RegistryURL, anp.RouteEntries, func(data []byte) []byte {
		var er anp.EntriesResponse
		if err := json.Unmarshal(data, &er); err != nil {
			t.Error(err)
			return data
		}
		er.Entries[0][0] ^= 1
		data, _ = json.Marshal(er)
		return data
	})
	var ee *exitError
	if err := monitor(lying); !errors.As(err, &ee) || ee.code != exitEntries || !strings.Contains(err.Error(), fmt.Sprintf("size %d root ", 3+sellers)) {
		t.Fatalf("tampered entries: err = %v, want exit code %d naming the head", err, exitEntries)
	}
}

// entriesStarts records the start of every /v1/log/entries request that
// passes through it to next.
type entriesStarts struct {
	next   http.RoundTripper
	mu     sync.Mutex
	starts []string
}

func (e *entriesStarts) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == anp.RouteEntries {
		e.mu.Lock()
		e.starts = append(e.starts, req.URL.Query().Get("start"))
		e.mu.Unlock()
	}
	return e.next.RoundTrip(req)
}

// take returns the starts recorded since the last call.
func (e *entriesStarts) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.starts
	e.starts = nil
	return out
}

// TestMonitorWatchResumesFromTheVerifiedTree: monitor --watch keeps the
// tree it verified in its state file; the next run reads only the entries
// added since (from entry 3 of 5), still checks them against the signed
// head, and a run watching another domain starts again from entry 0.
func TestMonitorWatchResumesFromTheVerifiedTree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lm := startLogMarket(ctx, t, leaves("entry", 3))
	m := lm.m
	grown := lm.twin(t, leaves("entry", 5))
	sw := &registrytest.LogSwitch{}
	rec := &entriesStarts{next: sw}
	u, _ := url.Parse(m.RegistryURL)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = rec
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)

	env, out, _ := testEnv(t, nil)
	state := filepath.Join(t.TempDir(), "monitor-state.json")
	monitor := func(domain string) error {
		return run(ctx, env, []string{"monitor", "--registry", proxy.URL, "--registry-key", m.RootKey, "--once", "--watch", domain, "--state", state})
	}
	if err := monitor("shop.anp"); err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	if got := rec.take(); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("first run read entries from %v, want from 0", got)
	}
	sw.Set(grown)
	if err := monitor("shop.anp"); err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if got := rec.take(); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("second run read entries from %v, want only from 3", got)
	}
	if !strings.Contains(out.String(), "resuming after entry 3, verified against head size 3 root ") {
		t.Fatalf("output lacks the resumption:\n%s", out)
	}
	if err := monitor("shop.anp"); err != nil || len(rec.take()) != 0 {
		t.Fatalf("a run with nothing new read entries again: %v", err)
	}
	if err := monitor("other.anp"); err != nil {
		t.Fatalf("another domain: %v", err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"0"}) || !strings.Contains(out.String(), "reading the log from entry 0: the verified entries were watched for shop.anp") {
		t.Fatalf("another domain read entries from %v:\n%s", got, out)
	}
	// A stored range that does not make its head's root is not trusted.
	st, err := (&fileHeadStore{path: state}).Load()
	if err != nil || st.Entries == nil || st.Entries.Head.Size != 5 {
		t.Fatalf("state file: %+v %v", st, err)
	}
	st.Entries.Range[0] = strings.Repeat("00", 32)
	if err := (&fileHeadStore{path: state}).Save(st); err != nil {
		t.Fatal(err)
	}
	if err := monitor("other.anp"); err != nil {
		t.Fatalf("a tampered range: %v", err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"0"}) || !strings.Contains(out.String(), "reading the log from entry 0: the stored range does not make the root of head size 5") {
		t.Fatalf("a tampered range read entries from %v:\n%s", got, out)
	}
}

// TestMonitorWatchReplaysTheDealEvents: in a market with a seeded history,
// monitor --watch of the seller that lost a dispute prints each event of
// its deals — three deliveries, the buyer's dispute, the arbiter's
// resolution — replayed through the deal's lifecycle rules and verified,
// with the state each leaves the deal in. The deals still in flight are
// kept with the verified tree, and the next run resumes with them.
func TestMonitorWatchReplaysTheDealEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := startMarket(ctx, t, demomarket.Options{History: true})
	env, out, _ := testEnv(t, nil)
	state := filepath.Join(t.TempDir(), "monitor-state.json")
	monitor := func() error {
		return run(ctx, env, []string{"monitor", "--registry", m.RegistryURL, "--registry-key", m.RootKey, "--once", "--watch", demomarket.DisputedSeller, "--state", state})
	}
	if err := monitor(); err != nil {
		t.Fatalf("monitor --watch: %v\n%s", err, out)
	}
	event := func(kind, by, state string) *regexp.Regexp {
		return regexp.MustCompile(fmt.Sprintf(`(?m)^deal event [0-9]+: %s of session [0-9a-f]{32} \(deal [0-9]+\) by %s, now %s verified$`, kind, regexp.QuoteMeta(by), state))
	}
	for _, want := range []struct {
		re *regexp.Regexp
		n  int
	}{
		{event(anp.EventFulfill, anp.BySeller, string(anp.StateFulfilled)), 3},
		{event(anp.EventDispute, anp.ByBuyer, string(anp.StateDisputed)), 1},
		{event(anp.EventResolve, anp.ByArbiter, string(anp.StateResolved)), 1},
	} {
		if got := len(want.re.FindAllString(out.String(), -1)); got != want.n {
			t.Fatalf("%d lines matching %s, want %d:\n%s", got, want.re, want.n, out)
		}
	}
	if strings.Contains(out.String(), "DOES NOT VERIFY") {
		t.Fatalf("an honest history does not verify:\n%s", out)
	}
	st, err := (&fileHeadStore{path: state}).Load()
	if err != nil || st.Entries == nil || !st.Entries.DealsKept || len(st.Entries.Deals) != 2 {
		t.Fatalf("state kept: %+v, %v; want the 2 delivered deals without a receipt in flight", st.Entries, err)
	}
	for _, l := range st.Entries.Deals {
		if l.State != anp.StateFulfilled || l.SellerDomain != demomarket.DisputedSeller {
			t.Fatalf("a deal kept in flight: %s of %s", l.State, l.SellerDomain)
		}
	}
	if err := monitor(); err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("with 2 deals of %s in flight", demomarket.DisputedSeller)) {
		t.Fatalf("the second run did not resume with the deals in flight:\n%s", out)
	}
	t.Logf("monitor output:\n%s", out)
}

// TestMonitorWatchFlagsForgedDealEvents: the operator of a registry holds
// its chain key and can countersign any deal event. A log that holds, after
// a real deal of kitchen-outlet.anp, a breach the operator countersigned
// at once — days before deliver_by — is shown to the seller's monitor (a
// twin registry with the same keys signs heads over it). The monitor
// verifies the deal and prints the breach as not verifying, naming its
// deadline.
func TestMonitorWatchFlagsForgedDealEvents(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	ledger := memstore.NewLedger()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := startMarket(ctx, t, demomarket.Options{Root: root, Ledger: ledger})
	env, out, errb := testEnv(t, nil)
	negotiateWith(ctx, t, env, errb, m, "ANP/C.kitchen-outlet.anp")
	size, err := ledger.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log, err := ledger.Leaves(ctx, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	var breach anp.DealEvent
	for i, leaf := range log {
		if l, err := anp.ParseLogLeaf(leaf); err == nil && l.Artifact != nil && l.Artifact.Terms.SellerDomain == "kitchen-outlet.anp" {
			deal, err := anp.DealHash(l.Artifact)
			if err != nil {
				t.Fatal(err)
			}
			breach = anp.DealEvent{Kind: anp.EventBreach, By: anp.ByRegistry, Rule: anp.RuleBreach, Session: l.Artifact.Terms.SessionID,
				Deal: deal, DealLeaf: uint64(i), SellerDomain: "kitchen-outlet.anp"}
		}
	}
	if breach.Session == "" {
		t.Fatal("no deal of kitchen-outlet.anp in the log")
	}
	twin := registrytest.Twin(t, root, ledger, append(log, registrytest.ForgeDealEvent(t, ledger, breach, time.Now())))
	out.mu.Lock()
	out.b.Reset()
	out.mu.Unlock()
	if err := run(ctx, env, []string{"monitor", "--registry", twin.URL, "--registry-key", m.RootKey, "--once", "--watch", "kitchen-outlet.anp", "--state", "memory:"}); err != nil {
		t.Fatalf("monitor --watch: %v\n%s", err, out)
	}
	deal := regexp.MustCompile(fmt.Sprintf(`(?m)^deal %d: kitchen-outlet\.anp sold .* verified$`, breach.DealLeaf))
	forged := regexp.MustCompile(fmt.Sprintf(`(?m)^deal event %d: breach of session %s \(deal %d\) by registry, rule %s DOES NOT VERIFY: .*before its deadline$`,
		len(log), breach.Session, breach.DealLeaf, anp.RuleBreach))
	if !deal.MatchString(out.String()) || !forged.MatchString(out.String()) {
		t.Fatalf("monitor --watch output, want the deal verified and the forged breach not:\n%s", out)
	}
}
