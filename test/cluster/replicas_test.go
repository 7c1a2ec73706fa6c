package cluster_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
)

// The load balancer of these tests is rrProxy, a TCP round-robin proxy
// started by the test: HAProxy and nginx are not part of the machine image
// CI runs on, and installing them needs the network (docs/deploy.md,
// "Registry replicas"). It balances connections, as HAProxy in TCP mode
// does; the buyers here open one connection per request, so consecutive
// requests of one deal land on different replicas.

// rrProxy hands each accepted connection to the next backend, skipping
// backends that refuse it, and counts the connections each one took.
type rrProxy struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []string
	next     int
	served   map[string]int
	open     map[net.Conn]bool // client connections being served, closed on cleanup
}

func startRRProxy(t *testing.T, backends ...string) *rrProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rrProxy{ln: ln, backends: backends, served: map[string]int{}, open: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.open {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *rrProxy) url() string { return "http://" + p.ln.Addr().String() }

// setBackends replaces the backends (a failover).
func (p *rrProxy) setBackends(backends ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backends, p.next = backends, 0
}

// counts returns the connections each backend took.
func (p *rrProxy) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.served {
		out[k] = v
	}
	return out
}

// pick returns the next backends in round-robin order.
func (p *rrProxy) pick() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.backends)
	order := make([]string, 0, n)
	for i := range n {
		order = append(order, p.backends[(p.next+i)%n])
	}
	p.next = (p.next + 1) % max(n, 1)
	return order
}

func (p *rrProxy) handle(c net.Conn) {
	p.mu.Lock()
	p.open[c] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.open, c)
		p.mu.Unlock()
		c.Close()
	}()
	for _, b := range p.pick() {
		up, err := net.DialTimeout("tcp", b, 2*time.Second)
		if err != nil {
			continue // a dead backend: the next one
		}
		p.mu.Lock()
		p.served[b]++
		p.mu.Unlock()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
		go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
		<-done
		up.Close()
		return
	}
}

// replicaSet is N registry processes on one PostgreSQL schema behind an
// rrProxy; the market's registry URL is the proxy's.
type replicaSet struct {
	m       *market
	dsn     string // the schema, for the test's own queries
	poolDSN string // the replicas' ledger: dsn with a larger connection pool
	procs   []*proc
	addrs   []string
	lb      *rrProxy
}

var replicaListenRe = regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"[^\n]*registry listening`)

// startReplicas starts n registry replicas sharing one fresh schema, the
// root key and the arbiter key. The first creates the keys; the others
// start once it has.
func startReplicas(t *testing.T, n int, extra ...string) *replicaSet {
	t.Helper()
	dsn, _ := pgtest.NewSchema(t)
	rs := &replicaSet{m: &market{dir: t.TempDir()}, dsn: dsn, poolDSN: pgtest.WithParam(dsn, "pool_max_conns", "24")}
	for i := range n {
		rs.startReplica(t, i, extra...)
	}
	rs.lb = startRRProxy(t, rs.addrs...)
	rs.m.registryURL = rs.lb.url()
	return rs
}

func (rs *replicaSet) startReplica(t *testing.T, i int, extra ...string) {
	t.Helper()
	args := append([]string{"registry", "--addr", "127.0.0.1:0", "--db", rs.poolDSN,
		"--key-file", filepath.Join(rs.m.dir, "registry.key"), "--arbiter-key-file", filepath.Join(rs.m.dir, "arbiter.key"),
		"--difficulty", "8", "--open-enrollment", "--allow-private-endpoints", "--auth-rate", "-1", "--log-level", "info"}, extra...)
	p := start(t, fmt.Sprintf("registry-%d", i+1), nil, args...)
	root := p.waitFor(rootKeyRe)
	if rs.m.rootKey != "" && root != rs.m.rootKey {
		t.Fatalf("replica %d has root key %s, the first %s", i+1, root, rs.m.rootKey)
	}
	rs.m.rootKey = root
	addr := p.waitFor(replicaListenRe)
	waitTCP(t, addr)
	waitReady(t, "http://"+addr)
	rs.procs, rs.addrs = append(rs.procs, p), append(rs.addrs, addr)
}

// logErrors logs the error lines of every replica.
func (rs *replicaSet) logErrors(t *testing.T) {
	t.Helper()
	for _, p := range rs.procs {
		for _, line := range strings.Split(p.output(), "\n") {
			if strings.Contains(line, `"level":"error"`) || strings.Contains(line, `"level":"warn"`) {
				t.Logf("%s: %s", p.name, line)
			}
		}
	}
}

// waitReady waits until GET /readyz answers 200 (the replica subscribed).
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + registry.RouteReady)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", base)
}

// waitListed waits until every replica lists domain (announcements are
// asynchronous: a replica learns a binding made elsewhere a moment later).
func (rs *replicaSet) waitListed(t *testing.T, domain string) {
	t.Helper()
	ctx := context.Background()
	for _, addr := range rs.addrs {
		c := registry.NewClient("http://"+addr, newIdentity(t), registry.ClientOptions{RootKey: rs.m.rootKey})
		deadline := time.Now().Add(30 * time.Second)
		for {
			ls, err := c.Discover(ctx, "kitchen", "", 50)
			if err == nil && hasListing(ls, domain) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s never listed %s (last error %v)", addr, domain, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func hasListing(ls []anp.Listing, domain string) bool {
	for _, l := range ls {
		if l.Binding.Domain == domain {
			return true
		}
	}
	return false
}

// replicaBuyers is the number of concurrent buyers of the replica tests.
const replicaBuyers = 50

// runReplicaDeals has replicaBuyers buyers close one deal each through the
// load balancer, one connection per request, and returns the artifacts,
// the errors and the wall time.
func runReplicaDeals(t *testing.T, rs *replicaSet, domains []string) ([]*anp.Artifact, []error, time.Duration) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 4 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	artifacts := make([]*anp.Artifact, replicaBuyers)
	results := make([]loadResult, replicaBuyers)
	gate := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range replicaBuyers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			artifacts[i], results[i] = runLoadBuyer(ctx, rs.m, hc, domains[i%len(domains)], ready.Done, gate)
		}()
	}
	ready.Wait()
	began := time.Now()
	close(gate)
	done.Wait()
	wall := time.Since(began)
	var errs []error
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("buyer %d: %w", i, r.err))
		}
	}
	return artifacts, errs, wall
}

// TestRegistryReplicasBehindALoadBalancer: three registry processes on one
// PostgreSQL behind a round-robin load balancer; sellers register and
// buyers negotiate through it, so a seller binds at one replica and
// publishes its record at another, and each request of a deal may land on
// another replica. 50 concurrent buyers close a deal each; every artifact
// verifies against the root key, every replica served requests, and the
// log holds exactly one leaf per deal (plus one key event per seller).
// With 1 and 2 replicas first, it reports deals per second for each.
func TestRegistryReplicasBehindALoadBalancer(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d_replicas", n), func(t *testing.T) { replicaDeals(t, n) })
	}
}

func replicaDeals(t *testing.T, n int) {
	rs := startReplicas(t, n)
	domains := []string{"replica-shop-1.anp", "replica-shop-2.anp", "replica-shop-3.anp"}
	for _, d := range domains {
		rs.m.startSeller(t, sellerSpec{domain: d})
	}
	for _, d := range domains {
		rs.waitListed(t, d)
	}
	artifacts, errs, wall := runReplicaDeals(t, rs, domains)
	if len(errs) > 0 {
		t.Errorf("%d of %d buyers failed; the first ones:\n%v", len(errs), replicaBuyers, errors.Join(errs[:min(5, len(errs))]...))
		rs.logErrors(t)
	}
	verified := verifyLoadArtifacts(t, artifacts, rs.m.rootKey)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, rs.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	leaves := countLeaves(t, conn)
	served := rs.lb.counts()
	t.Logf("replicas: %d replicas, %d buyers, %d deals verified, %d errors, %d log leaves, %.2f s wall, %.1f deals/s; connections per replica %v",
		n, replicaBuyers, verified, len(errs), leaves, wall.Seconds(), float64(verified)/wall.Seconds(), served)
	if verified != replicaBuyers || leaves != replicaBuyers+len(domains) {
		t.Fatalf("%d deals verified and %d leaves in the log, want %d deals and %d leaves (one per deal, one key event per seller)",
			verified, leaves, replicaBuyers, replicaBuyers+len(domains))
	}
	var cpu time.Duration
	for _, p := range rs.procs {
		cpu += cpuTime(t, p)
	}
	t.Logf("replicas: registry CPU %s in all (%.1f ms per deal, start-up included), %d requests per deal",
		cpu, float64(cpu.Milliseconds())/float64(max(verified, 1)), sum(served)/max(verified, 1))
	for _, addr := range rs.addrs {
		if served[addr] == 0 {
			t.Errorf("replica %s served no connection: %v", addr, served)
		}
	}
	var dupes int
	if err := conn.QueryRow(ctx, `SELECT count(*) - count(DISTINCT leaf) FROM leaves`).Scan(&dupes); err != nil {
		t.Fatal(err)
	}
	if dupes != 0 {
		t.Fatalf("the log holds %d duplicate leaves", dupes)
	}
	head, err := registry.NewClient(rs.m.registryURL, newIdentity(t), registry.ClientOptions{RootKey: rs.m.rootKey}).LogHead(ctx)
	if err != nil {
		t.Fatalf("log head through the load balancer: %v", err)
	}
	if head.Size != uint64(leaves) {
		t.Fatalf("a replica signed a head of %d leaves, the log holds %d", head.Size, leaves)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

var appliedAnswerRe = regexp.MustCompile(`applied seller answer`)

// TestCallbackReachesBuyerOnAnotherReplica: a buyer pod holds its
// WebSocket on replica A (through a load balancer that sends it to A only);
// the seller posts its asynchronous answers to replica B. The answer
// reaches the buyer exactly once. Then A is killed while the next answer
// is on its way; the load balancer fails over to B, the buyer reconnects
// there and gets the answer queued meanwhile: nothing is lost, nothing is
// applied twice, and the deal closes and verifies.
func TestCallbackReachesBuyerOnAnotherReplica(t *testing.T) {
	rs := startReplicas(t, 2)
	a, b := rs.addrs[0], rs.addrs[1]
	rs.m.registryURL = "http://" + b // the seller registers, and answers, at B
	rs.m.startSeller(t, sellerSpec{domain: "slow-replica.anp", async: true, delay: "1500ms"})
	lb := startRRProxy(t, a) // the buyer's registry: A, until it dies
	rs.m.registryURL = lb.url()
	rs.waitListed(t, "slow-replica.anp")
	pod := startPod(t, "buyer-pod", rs.m, newKeyFile(t), "memory:")

	s := pod.ok("propose_deal", map[string]any{"seller": "slow-replica.anp", "item": "Kettle", "max_budget": 100})
	id := s["session_id"].(string)
	answers := 0
	counter := func(price float64) {
		t.Helper()
		got := pod.ok("counter", map[string]any{"session_id": id, "price": price, "wait_seconds": 0})
		if got["awaiting_seller"] != true {
			t.Fatalf("counter %v did not wait for the seller: %v", price, got)
		}
		answers++
	}
	waitApplied := func() {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for strings.Count(pod.proc.output(), "applied seller answer") < answers {
			if time.Now().After(deadline) {
				t.Fatalf("the buyer applied %d seller answers, want %d:\n%s", strings.Count(pod.proc.output(), "applied seller answer"), answers, pod.proc.output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	counter(60)
	waitApplied() // answered at B, pushed by A

	counter(70)
	rs.procs[0].kill() // A dies before the seller's answer (1.5 s later) reaches B
	lb.setBackends(b)
	waitApplied() // queued at B while the buyer was away, delivered on its reconnection to B

	for _, p := range []float64{80, 94} {
		if got := pod.ok("get_session", map[string]any{"session_id": id}); got["state"] == "CONFIRMED" {
			break
		}
		counter(p)
		waitApplied()
	}
	got := pod.ok("get_session", map[string]any{"session_id": id})
	if got["state"] != "CONFIRMED" {
		t.Fatalf("state %v after the counters: %v", got["state"], got)
	}
	if n := len(appliedAnswerRe.FindAllString(pod.proc.output(), -1)); n != answers {
		t.Fatalf("the buyer applied %d seller answers for %d counters: a callback was delivered twice or lost", n, answers)
	}
	if ap := pod.ok("approve_and_sign", map[string]any{"session_id": id}); ap["verified"] != true {
		t.Fatalf("approve through replica B: %v", ap)
	}
	var left int
	conn, err := pgx.Connect(context.Background(), rs.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM kv WHERE bucket = 'pending'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d callbacks are still queued after every answer was applied: an ACK was lost", left)
	}
	t.Logf("replicas: %d asynchronous answers posted to replica B, each applied once by the buyer (A before its death, B after)", answers)
}

// TestRegistryDrainsOnSIGTERM: on SIGTERM a registry replica answers
// /readyz with 503 at once (the load balancer stops sending it requests),
// finishes the request it is in the middle of reading, and exits 0.
func TestRegistryDrainsOnSIGTERM(t *testing.T) {
	rs := startReplicas(t, 1, "--drain-delay", "10s")
	p, base := rs.procs[0], "http://"+rs.addrs[0]
	body := `{"pubkey":"` + hex.EncodeToString(newIdentity(t).Public().(ed25519.PublicKey)) + `"}`
	conn, err := net.Dial("tcp", rs.addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: registry\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", anp.RouteChallenge, len(body))
	if _, err := io.WriteString(conn, head+body[:10]); err != nil { // a request in flight: half its body sent
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + registry.RouteReady)
		if err != nil {
			t.Fatalf("/readyz while draining: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after SIGTERM", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the request in flight: %d, want 200", resp.StatusCode)
	}
	<-p.done
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), "draining: /readyz answers 503") {
		t.Fatalf("no drain logged:\n%s", p.output())
	}
}
