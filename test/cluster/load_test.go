package cluster_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
)

// loadRegistryArgs are the registry daemon's extra flags in the load test:
// the one place to relax limits a crowd from one address needs. Every buyer
// here comes from 127.0.0.1 with its own identity, so per-source limits
// (login challenges, unauthenticated requests) see 1,000 buyers as one
// source, while per-buyer limits see each once. The environment variable
// CLINCH_LOAD_REGISTRY_ARGS adds flags (separated by spaces) without a
// code change.
var loadRegistryArgs = []string{
	// 1,000 logins from one address in a few seconds: the per-source limit
	// on challenge and token requests would refuse all but its burst.
	"--auth-rate", "-1",
}

// loadSellers is the number of seller daemons the buyers are spread over;
// loadConns bounds the buyers' connections to the registry.
const (
	loadSellers = 5
	loadConns   = 100
)

// loadResult is what one buyer measured: the login and the deal, and the
// deal's phases.
type loadResult struct {
	login, deal             time.Duration
	propose, counters, sign time.Duration
	err                     error
}

// TestLoadConcurrentBuyers is the bounded load test: loadBuyers buyers
// (1,000 without the race detector) start together against one registry
// daemon and five seller daemons, all real clinch-mcp processes. Each buyer
// has its own identity, logs in (challenge, proof of work, token), proposes
// to one seller, negotiates with counters until the seller confirms, signs,
// and gets the deal notarised; the test verifies every artifact against the
// pinned registry root key. It asserts no errors, every deal verified and
// the log holding exactly those deals; it prints the login and deal latency
// (p50, p99) and each daemon's peak resident memory (VmHWM), and asserts no
// time.
func TestLoadConcurrentBuyers(t *testing.T) {
	m := &market{dir: t.TempDir(), regAddr: freeAddr(t), registryArgs: append(slices.Clone(loadRegistryArgs), strings.Fields(os.Getenv("CLINCH_LOAD_REGISTRY_ARGS"))...)}
	m.registryURL = "http://" + m.regAddr
	m.startRegistry(t)
	var domains []string
	var sellers []*proc
	for i := range loadSellers {
		d := fmt.Sprintf("load-seller-%d.anp", i+1)
		domains = append(domains, d)
		sellers = append(sellers, m.startSeller(t, sellerSpec{domain: d}))
	}

	// The buyers share one pool of at most loadConns connections, as behind
	// a proxy: all 1,000 are in the middle of a deal at once, but the
	// registry has at most loadConns requests in hand, so on a starved
	// machine a request queues in the client instead of outliving the
	// registry's write timeout (30 s) on the server.
	tr := &http.Transport{MaxConnsPerHost: loadConns, MaxIdleConns: loadConns, MaxIdleConnsPerHost: loadConns, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 4 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	results := make([]loadResult, loadBuyers)
	artifacts := make([]*anp.Artifact, loadBuyers)
	startGate := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range loadBuyers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			artifacts[i], results[i] = runLoadBuyer(ctx, m, hc, domains[i%loadSellers], ready.Done, startGate)
		}()
	}
	ready.Wait()
	began := time.Now()
	close(startGate)
	done.Wait()
	wall := time.Since(began)

	var errs []error
	var logins, deals, proposes, counters, signs []time.Duration
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("buyer %d: %w", i, r.err))
			continue
		}
		logins, deals = append(logins, r.login), append(deals, r.deal)
		proposes, counters, signs = append(proposes, r.propose), append(counters, r.counters), append(signs, r.sign)
	}
	if len(errs) > 0 {
		t.Errorf("%d of %d buyers failed; the first ones:\n%v", len(errs), loadBuyers, errors.Join(errs[:min(5, len(errs))]...))
	}
	verified := verifyLoadArtifacts(t, artifacts, m.rootKey)
	head, err := registry.NewClient(m.registryURL, newIdentity(t), registry.ClientOptions{RootKey: m.rootKey, HTTP: hc}).LogHead(ctx)
	if err != nil {
		t.Fatalf("log head: %v", err)
	}
	t.Logf("load: %d buyers, %d sellers, %d deals signed and verified, %d errors, %d log entries, %.1f s wall, %.0f deals/s, GOMAXPROCS %d, at most %d connections to the registry",
		loadBuyers, loadSellers, verified, len(errs), head.Size, wall.Seconds(), float64(verified)/wall.Seconds(), runtime.GOMAXPROCS(0), loadConns)
	envelopes := 0
	for _, a := range artifacts {
		if a != nil {
			envelopes += int(a.Terms.TranscriptLen)
		}
	}
	t.Logf("load: login latency p50 %s p99 %s; deal latency (propose to notarised artifact, %.1f envelopes to the ACCEPT on average) p50 %s p99 %s",
		percentile(logins, 50), percentile(logins, 99), float64(envelopes)/float64(max(verified, 1)), percentile(deals, 50), percentile(deals, 99))
	t.Logf("load: deal phases p50/p99: propose %s/%s, counters to CONFIRMED %s/%s, sign and notarise %s/%s",
		percentile(proposes, 50), percentile(proposes, 99), percentile(counters, 50), percentile(counters, 99), percentile(signs, 50), percentile(signs, 99))
	t.Logf("load: registry peak memory (VmHWM) %s, CPU %s", peakMemory(t, m.registry), cpuTime(t, m.registry))
	for i, s := range sellers {
		t.Logf("load: %s peak memory (VmHWM) %s, CPU %s", domains[i], peakMemory(t, s), cpuTime(t, s))
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		t.Logf("load: buyers (this process) peak memory %.1f MB, CPU %s", float64(ru.Maxrss)/1024,
			(time.Duration(ru.Utime.Nano() + ru.Stime.Nano())).Round(time.Millisecond))
	}
	// The log holds every deal and one key event per seller (its binding).
	if verified != loadBuyers || head.Size != uint64(loadBuyers+loadSellers) {
		t.Fatalf("%d deals verified and %d entries in the log, want %d deals and %d entries", verified, head.Size, loadBuyers, loadBuyers+loadSellers)
	}
}

// runLoadBuyer is one buyer: a fresh identity and engine, ready once they
// exist, then, after the gate opens, login and one deal with domain.
func runLoadBuyer(ctx context.Context, m *market, hc *http.Client, domain string, ready func(), gate <-chan struct{}) (*anp.Artifact, loadResult) {
	_, id, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		ready()
		return nil, loadResult{err: err}
	}
	client := registry.NewClient(m.registryURL, id, registry.ClientOptions{HTTP: hc, RootKey: m.rootKey, Logger: zerolog.Nop()})
	core, err := buyer.New(buyer.Config{Identity: id, Registry: client, Logger: zerolog.Nop()})
	ready()
	if err != nil {
		return nil, loadResult{err: err}
	}
	defer core.Close()
	<-gate
	t0 := time.Now()
	if _, err := client.Token(ctx); err != nil {
		return nil, loadResult{err: fmt.Errorf("login: %w", err)}
	}
	r := loadResult{login: time.Since(t0)}
	art, err := closeDeal(ctx, core, domain, &r)
	r.deal, r.err = r.propose+r.counters+r.sign, err
	return art, r
}

// closeDeal proposes to domain, counters with the default strategy until
// the seller confirms, and signs, timing each phase into r.
func closeDeal(ctx context.Context, core *buyer.Core, domain string, r *loadResult) (*anp.Artifact, error) {
	budget, err := anp.FromMajor(100, "USD")
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	s, err := core.ProposeDeal(ctx, "ANP/C."+domain, buyer.Constraints{Item: "Blender", MaxBudget: budget}, buyer.ProposeOptions{})
	if err != nil {
		return nil, fmt.Errorf("propose: %w", err)
	}
	t1 := time.Now()
	r.propose = t1.Sub(t0)
	s, err = core.Negotiate(ctx, s.ID, concession.Default())
	if err != nil {
		return nil, fmt.Errorf("negotiate: %w", err)
	}
	if s.State != buyer.StateConfirmed {
		return nil, fmt.Errorf("session %s ended %s (%s), not CONFIRMED", s.ID, s.State, s.Reason)
	}
	t2 := time.Now()
	r.counters = t2.Sub(t1)
	art, err := core.ApproveAndSign(ctx, s.ID)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	r.sign = time.Since(t2)
	return art, nil
}

// verifyLoadArtifacts verifies every artifact offline against the pinned
// root key and checks that no two buyers got the same session or leaf.
func verifyLoadArtifacts(t *testing.T, artifacts []*anp.Artifact, rootKey string) int {
	t.Helper()
	sessions, leaves := map[string]bool{}, map[uint64]bool{}
	n := 0
	for i, a := range artifacts {
		if a == nil {
			continue
		}
		if err := anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: rootKey}); err != nil {
			t.Errorf("buyer %d: artifact does not verify: %v", i, err)
			continue
		}
		if sessions[a.Terms.SessionID] || leaves[a.Receipt.LeafIndex] {
			t.Errorf("buyer %d: session %s or leaf %d seen twice", i, a.Terms.SessionID, a.Receipt.LeafIndex)
			continue
		}
		sessions[a.Terms.SessionID], leaves[a.Receipt.LeafIndex] = true, true
		n++
	}
	return n
}

// percentile is the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1].Round(time.Millisecond)
}

// peakMemory reads a running process's peak resident set size (VmHWM)
// from /proc.
func peakMemory(t *testing.T, p *proc) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("%s: VmHWM %q", p.name, v)
			}
			return fmt.Sprintf("%.1f MB", float64(kb)/1024)
		}
	}
	t.Fatalf("%s: no VmHWM in /proc status", p.name)
	return ""
}

// cpuTime reads a running process's user and system CPU time from /proc
// (clock ticks of 1/100 s, the Linux default).
func cpuTime(t *testing.T, p *proc) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	// The fields after the command name (in parentheses): state is field 3,
	// utime 14 and stime 15.
	_, rest, _ := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		t.Fatalf("%s: /proc stat %q", p.name, data)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func newIdentity(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, id, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
