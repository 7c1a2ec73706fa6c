package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
)

const sellerDomain = "kitchen-outlet.anp"

// sellerFiles writes a key and the config of a kitchen-outlet seller that
// listens on listen and publishes endpoint.
func sellerFiles(t *testing.T, m *market, keyFile, listen, endpoint string) string {
	t.Helper()
	if _, err := os.Stat(keyFile); err != nil {
		if out, err := exec.Command(binary, "keygen", "--out", keyFile).CombinedOutput(); err != nil {
			t.Fatalf("keygen: %v %s", err, out)
		}
	}
	cfg := fmt.Sprintf(`{"domain":%q,"key_file":%q,"registry":%q,"listen":%q,"endpoint":%q,"categories":["kitchen"],"demo":true,
		"policy":{"currency":"USD","list":"120","floor":"78","exponent":0.5,"max_turns":6}}`, sellerDomain, keyFile, m.registryURL, listen, endpoint)
	path := filepath.Join(t.TempDir(), "seller.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startSellerProc starts `clinch-mcp seller` on a config and waits until it
// has registered.
func startSellerProc(t *testing.T, name, cfg string, args ...string) *proc {
	t.Helper()
	p := start(t, name, nil, append([]string{"seller", "--config", cfg, "--log-level", "info"}, args...)...)
	p.waitFor(regexp.MustCompile(`seller node registered`))
	return p
}

// TestSellerSurvivesKill9: a seller process killed with SIGKILL between two
// buyer moves restarts on the same state directory (its SQLite session
// store) and the negotiation finishes with a verified deal.
func TestSellerSurvivesKill9(t *testing.T) {
	m := startMarket(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	cfg := sellerFiles(t, m, filepath.Join(dir, "seller.key"), listen, "http://"+listen)
	state := filepath.Join(dir, "state")
	sp := startSellerProc(t, "seller-1", cfg, "--state-dir", state)

	p := startPod(t, "serve", m, newKeyFile(t), "sqlite://"+filepath.Join(t.TempDir(), "sessions.db"))
	s := p.ok("propose_deal", map[string]any{"seller": sellerDomain, "item": "Blender", "max_budget": 100})
	id := s["session_id"].(string)
	p.ok("counter", map[string]any{"session_id": id, "price": 60})
	before := p.ok("counter", map[string]any{"session_id": id, "price": 70})
	sp.kill()

	startSellerProc(t, "seller-2", cfg, "--state-dir", state)
	p.ok("counter", map[string]any{"session_id": id, "price": 80})
	s = p.ok("counter", map[string]any{"session_id": id, "price": 94})
	if s["state"] != "CONFIRMED" {
		t.Fatalf("state after the restart %v (before the kill: %v)", s["state"], before["state"])
	}
	if ap := p.ok("approve_and_sign", map[string]any{"session_id": id}); ap["verified"] != true {
		t.Fatalf("approve: %v", ap)
	}
	verifyFile(t, writeArtifact(t, p, id), m.rootKey)
	if _, err := os.Stat(filepath.Join(state, "sessions.db")); err != nil {
		t.Fatalf("the seller's session store is not in its state directory: %v", err)
	}
}

// fanProxy is the load balancer in front of several seller processes: it
// sends each request to the next backend in turn, except the first request
// to fan, which it delivers count times at once, alternating between the
// backends, as a retrying balancer or a duplicating network might. It
// answers the registry with the first of those answers.
type fanProxy struct {
	backends []string // base URLs
	fan      string   // route path
	count    int
	next     atomic.Uint64
	fanned   atomic.Bool

	mu      sync.Mutex
	answers []fanAnswer
}

type fanAnswer struct {
	backend string
	status  int
	body    []byte
}

func (p *fanProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.URL.Path != p.fan || !p.fanned.CompareAndSwap(false, true) {
		a := p.send(p.backends[p.next.Add(1)%uint64(len(p.backends))], r, body)
		writeAnswer(w, a)
		return
	}
	answers := make([]fanAnswer, p.count)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = p.send(p.backends[i%len(p.backends)], r, body)
		}()
	}
	close(start)
	wg.Wait()
	p.mu.Lock()
	p.answers = answers
	p.mu.Unlock()
	writeAnswer(w, answers[0])
}

// send forwards r, with body, to backend.
func (p *fanProxy) send(backend string, r *http.Request, body []byte) fanAnswer {
	req, err := http.NewRequest(r.Method, backend+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		return fanAnswer{backend: backend, status: http.StatusBadGateway, body: []byte(err.Error())}
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fanAnswer{backend: backend, status: http.StatusBadGateway, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return fanAnswer{backend: backend, status: resp.StatusCode, body: data}
}

func writeAnswer(w http.ResponseWriter, a fanAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// TestSellersShareOnePostgres: two seller processes of one domain on one
// PostgreSQL behind a round-robin balancer. The buyer's first COUNTER is
// delivered 16 times at once, 8 to each process: it is applied once (the
// stored record moved one version, its transcript holds one COUNTER and one
// reply) and all 16 deliveries get that same signed reply. The deal then
// finishes through both processes and verifies.
func TestSellersShareOnePostgres(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t) // skips (fails under CI=true) without PostgreSQL
	m := startMarket(t)
	dir := t.TempDir()
	lb := &fanProxy{fan: anp.SellerCounter, count: 16}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: lb}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	endpoint := "http://" + ln.Addr().String()
	key := filepath.Join(dir, "seller.key")
	for i := range 2 {
		listen := freeAddr(t)
		cfg := sellerFiles(t, m, key, listen, endpoint)
		startSellerProc(t, fmt.Sprintf("seller-%d", i+1), cfg, "--state-dir", filepath.Join(dir, fmt.Sprintf("state-%d", i+1)), "--store", dsn)
		lb.backends = append(lb.backends, "http://"+listen)
	}

	p := startPod(t, "serve", m, newKeyFile(t), "sqlite://"+filepath.Join(t.TempDir(), "sessions.db"))
	s := p.ok("propose_deal", map[string]any{"seller": sellerDomain, "item": "Blender", "max_budget": 100})
	id := s["session_id"].(string)
	p.ok("counter", map[string]any{"session_id": id, "price": 60})

	lb.mu.Lock()
	answers := lb.answers
	lb.mu.Unlock()
	if len(answers) != 16 {
		t.Fatalf("%d deliveries of the COUNTER, want 16", len(answers))
	}
	replies := map[string]int{}
	perBackend := map[string]int{}
	for i, a := range answers {
		if a.status != http.StatusOK {
			t.Fatalf("delivery %d to %s: %d %s", i, a.backend, a.status, a.body)
		}
		var rr anp.RelayResponse
		if err := anp.DecodeStrict(a.body, &rr); err != nil || rr.Reply == nil {
			t.Fatalf("delivery %d: %v %s", i, err, a.body)
		}
		h, err := rr.Reply.Hash()
		if err != nil {
			t.Fatal(err)
		}
		replies[h]++
		perBackend[a.backend]++
	}
	if len(replies) != 1 || len(perBackend) != 2 {
		t.Fatalf("16 deliveries over %d processes got %d different replies, want 1: %v", len(perBackend), len(replies), replies)
	}

	db, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec, err := db.Sessions().Load(context.Background(), "seller/"+sellerDomain+"/"+id)
	if err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Envelopes []*anp.Envelope `json:"envelopes"`
	}
	if err := json.Unmarshal(rec.Data, &stored); err != nil {
		t.Fatal(err)
	}
	counters := 0
	for _, e := range stored.Envelopes {
		if e.Type == anp.TypeCounter && e.From != stored.Envelopes[1].From {
			counters++
		}
	}
	last, err := stored.Envelopes[len(stored.Envelopes)-1].Hash()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != 2 || len(stored.Envelopes) != 4 || counters != 1 || replies[last] != 16 {
		t.Fatalf("stored: version %d, %d envelopes, %d buyer COUNTERs, last reply answered %d deliveries; want 2, 4, 1, 16",
			rec.Version, len(stored.Envelopes), counters, replies[last])
	}
	t.Logf("16 deliveries (%v per process) -> %d distinct reply, stored version %d with %d envelopes", perBackend, len(replies), rec.Version, len(stored.Envelopes))

	for _, price := range []float64{70, 80, 94} {
		s = p.ok("counter", map[string]any{"session_id": id, "price": price})
	}
	if s["state"] != "CONFIRMED" {
		t.Fatalf("state %v", s["state"])
	}
	if ap := p.ok("approve_and_sign", map[string]any{"session_id": id}); ap["verified"] != true {
		t.Fatalf("approve: %v", ap)
	}
	verifyFile(t, writeArtifact(t, p, id), m.rootKey)
}

// TestSellerDrainsOnSIGTERM: a seller is ready while its store answers; on
// SIGTERM it reports draining, closes its listener after its requests and
// exits 0.
func TestSellerDrainsOnSIGTERM(t *testing.T) {
	m := startMarket(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	cfg := sellerFiles(t, m, filepath.Join(dir, "seller.key"), listen, "http://"+listen)
	sp := startSellerProc(t, "seller", cfg, "--state-dir", filepath.Join(dir, "state"))
	resp, err := http.Get("http://" + listen + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz %d, want 200", resp.StatusCode)
	}
	if err := sp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-sp.done
	if code := sp.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, sp.output())
	}
	if !strings.Contains(sp.output(), "draining: /readyz answers 503") {
		t.Fatalf("no drain logged:\n%s", sp.output())
	}
}
