package registry

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
)

// replica is one registry process of a shared PostgreSQL ledger, served
// at the URL it advertises.
type replica struct {
	srv *Server
	url string
	db  *pgstore.DB
}

func startReplica(t testing.TB, dsn string, cfg Config) *replica {
	t.Helper()
	db, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Ledger, cfg.Advertise, cfg.Logger = db.Ledger(), "http://"+ln.Addr().String(), zerolog.Nop()
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
	ts.Start()
	t.Cleanup(func() { ts.Close(); _ = srv.Close(); db.Close() })
	return &replica{srv: srv, url: cfg.Advertise, db: db}
}

// TestLogWriterForwardsAndFences: two registries on one ledger. The first
// holds the lease and appends what the second forwards. When its lease
// lapses and the second takes it over, the first's next append is refused
// by the fencing token and goes to the second instead: every leaf once, in
// one tree. Closing the holder releases the lease at once.
func TestLogWriterForwardsAndFences(t *testing.T) {
	ctx := context.Background()
	dsn, _ := pgtest.NewSchema(t)
	cfg := Config{Root: anptest.NewKey(t), Difficulty: 4, LogLeaseTTL: time.Hour, DealSweep: time.Hour}
	a := startReplica(t, dsn, cfg)
	b := startReplica(t, dsn, cfg)
	if !a.srv.writer.holds() || b.srv.writer.holds() {
		t.Fatalf("writer: a %v, b %v; want a only", a.srv.writer.holds(), b.srv.writer.holds())
	}
	idx, size, _, _, err := b.srv.logLeaf(ctx, []byte("leaf from b"))
	if err != nil || idx != 0 || size != 1 || a.srv.tree.size() != 1 {
		t.Fatalf("b's forwarded append: leaf %d size %d %v; a's tree %d", idx, size, err, a.srv.tree.size())
	}

	// a's lease lapses and b takes it over; a still believes it writes.
	if _, err := a.db.Pool().Exec(ctx, `UPDATE log_lease SET expires = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if got, err := b.srv.acquireLease(ctx); err != nil || !got {
		t.Fatalf("b takes the lapsed lease: %v %v", got, err)
	}
	if !a.srv.writer.holds() {
		t.Fatal("a noticed the takeover before appending; the test needs a deposed writer that does not know it")
	}
	idx, _, _, _, err = a.srv.logLeaf(ctx, []byte("leaf from a"))
	if err != nil || idx != 1 {
		t.Fatalf("the deposed writer's append: leaf %d %v, want leaf 1 through b", idx, err)
	}
	if a.srv.writer.holds() {
		t.Fatal("a still believes it writes after its fenced append was refused")
	}
	if n, _ := a.db.Ledger().Size(ctx); n != 2 || b.srv.tree.size() != 2 {
		t.Fatalf("log size %d, b's tree %d; want 2", n, b.srv.tree.size())
	}

	// Forwarding the same leaf again finds it instead of appending it twice.
	first, err := b.srv.appendLeaf(ctx, 0, []byte("leaf from a"), true)
	if err != nil || first.Index != 1 {
		t.Fatalf("the same leaf again: %+v %v", first, err)
	}
	again, err := a.srv.forwardAppend(ctx, b.url, 0, []byte("leaf from a"))
	if err != nil || again.Index != 1 || again.Size != 2 {
		t.Fatalf("the same leaf forwarded again: %+v %v, want leaf 1 of 2", again, err)
	}

	// b hands the lease off on Close; a takes it at once.
	_ = b.srv.Close()
	if lease, err := a.srv.writer.leaser.CurrentLogLease(ctx); err != nil || lease.Live {
		t.Fatalf("after b closed: %+v %v, want no live lease", lease, err)
	}
	if got, err := a.srv.acquireLease(ctx); err != nil || !got {
		t.Fatalf("a takes the released lease: %v %v", got, err)
	}
}

// TestLogForwardRefusals: the forward route refuses a bad MAC, a stale
// request and, on a process that is not the writer, any append.
func TestLogForwardRefusals(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t)
	cfg := Config{Root: anptest.NewKey(t), Difficulty: 4, LogLeaseTTL: time.Hour, DealSweep: time.Hour}
	a := startReplica(t, dsn, cfg)
	b := startReplica(t, dsn, cfg)
	key := forwardKey(cfg.Root)
	body := func(ts time.Time) []byte {
		data, _ := json.Marshal(forwardRequest{From: 0, Leaf: []byte("x"), TS: ts.UnixMilli()})
		return data
	}
	fresh, stale := body(time.Now()), body(time.Now().Add(-time.Hour))
	for _, tc := range []struct {
		name   string
		url    string
		body   []byte
		mac    string
		status int
	}{
		{"no MAC", a.url, fresh, "", http.StatusForbidden},
		{"MAC of another key", a.url, fresh, forwardMAC(forwardKey(anptest.NewKey(t)), fresh), http.StatusForbidden},
		{"stale", a.url, stale, forwardMAC(key, stale), http.StatusBadRequest},
		{"not the writer", b.url, fresh, forwardMAC(key, fresh), http.StatusBadGateway},
	} {
		req, _ := http.NewRequest(http.MethodPost, tc.url+RouteLogForward, bytes.NewReader(tc.body))
		req.Header.Set(headerLogMAC, tc.mac)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	if n, _ := a.db.Ledger().Size(context.Background()); n != 0 {
		t.Fatalf("refused appends wrote %d leaves", n)
	}
}

// TestParseForwardAnswerRefusesWrongProof: an answer must prove the leaf
// that was sent.
func TestParseForwardAnswerRefusesWrongProof(t *testing.T) {
	e := newEnv(t, nil)
	for _, l := range []string{"a", "b", "c"} {
		if _, _, _, _, err := e.srv.logLeaf(context.Background(), []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	good := forwardAnswerFor(t, e.srv, 1)
	if _, err := parseForwardAnswer(good, []byte("b")); err != nil {
		t.Fatalf("a true answer: %v", err)
	}
	for name, leaf := range map[string]string{"another leaf": "c", "empty": ""} {
		if _, err := parseForwardAnswer(good, []byte(leaf)); !errors.Is(err, ErrForwardProof) {
			t.Errorf("%s: %v, want ErrForwardProof", name, err)
		}
	}
}

func forwardAnswerFor(t testing.TB, s *Server, idx uint64) []byte {
	t.Helper()
	lg, err := s.proveLeaf(context.Background(), idx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(forwardAnswer{Index: lg.Index, Size: lg.Size, Root: hex.EncodeToString(lg.Root), Inclusion: hexAll(lg.Inclusion)})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func FuzzParseForward(f *testing.F) {
	key := forwardKey(anptest.NewKey(f))
	now := time.UnixMilli(1_700_000_000_000)
	valid, _ := json.Marshal(forwardRequest{From: 3, Leaf: []byte("leaf"), TS: now.UnixMilli()})
	f.Add(valid, true)
	f.Add([]byte(`{"from":1,"leaf":"","ts":0}`), true)
	f.Add([]byte(`{"from":1,"leaf":"eA==","ts":1700000000000,"x":1}`), true)
	f.Add(valid, false)
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		mac := "00"
		if signed {
			mac = forwardMAC(key, body)
		}
		req, err := parseForward(key, mac, body, now)
		if err != nil {
			if !errors.Is(err, ErrForwardMAC) && !errors.Is(err, ErrForwardMalformed) && !errors.Is(err, ErrForwardStale) {
				t.Fatalf("unnamed error: %v", err)
			}
			return
		}
		if !signed || len(req.Leaf) == 0 {
			t.Fatalf("accepted signed=%v leaf %q", signed, req.Leaf)
		}
	})
}

func FuzzParseForwardAnswer(f *testing.F) {
	e := newEnv(f, nil)
	for _, l := range []string{"a", "b", "c", "d", "e"} {
		if _, _, _, _, err := e.srv.logLeaf(context.Background(), []byte(l)); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(forwardAnswerFor(f, e.srv, 2), []byte("c"))
	f.Add(forwardAnswerFor(f, e.srv, 4), []byte("e"))
	f.Add([]byte(`{"index":0,"size":1,"root":"","inclusion":[]}`), []byte("a"))
	f.Fuzz(func(t *testing.T, body, leaf []byte) {
		lg, err := parseForwardAnswer(body, leaf)
		if err != nil {
			if !errors.Is(err, ErrForwardProof) {
				t.Fatalf("unnamed error: %v", err)
			}
			return
		}
		if lg.Index >= lg.Size || len(lg.Root) != 32 {
			t.Fatalf("accepted %+v", lg)
		}
	})
}

// BenchmarkLogAppendShared measures appends to a log on a shared
// PostgreSQL ledger: by the writer itself (one fenced transaction each,
// one at a time under the tree's lock: the single writer's ceiling), and
// forwarded to it from another registry process over loopback HTTP, one
// at a time and from parallel callers.
func BenchmarkLogAppendShared(b *testing.B) {
	dsn, _ := pgtest.NewSchema(b)
	cfg := Config{Root: anptest.NewKey(b), Difficulty: 4, LogLeaseTTL: time.Hour, DealSweep: time.Hour}
	a := startReplica(b, dsn, cfg)
	fwd := startReplica(b, dsn, cfg)
	leaf := func(i int, who string) []byte {
		return append(bytes.Repeat([]byte{'x'}, 600), []byte(who+time.Now().String()+string(rune(i)))...)
	}
	for _, bc := range []struct {
		name     string
		s        *Server
		parallel bool
	}{{"writer", a.srv, false}, {"forwarded", fwd.srv, false}, {"forwarded-parallel", fwd.srv, true}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			if !bc.parallel {
				for i := 0; i < b.N; i++ {
					if _, _, _, _, err := bc.s.logLeaf(ctx, leaf(i, bc.name)); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if _, _, _, _, err := bc.s.logLeaf(ctx, leaf(i, bc.name)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
