package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// forkedView is a registry and a twin signing with the same key chain but
// keeping another log, behind one proxy that answers /v1/log/ from the
// twin once forked is set: a registry showing two inconsistent logs.
type forkedView struct {
	e      *testEnv
	twin   *Server
	proxy  *httptest.Server
	forked atomic.Bool
}

func newForkedView(t *testing.T, twinLeaves int) *forkedView {
	t.Helper()
	e := newEnv(t, nil)
	ctx := context.Background()
	twinLedger := memstore.NewLedger()
	kvs, err := e.ledger.List(ctx, bucketKeys)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if err := twinLedger.Put(ctx, bucketKeys, kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for i := range twinLeaves {
		if _, err := twinLedger.Append(ctx, fmt.Appendf(nil, "forked leaf %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := e.cfg
	cfg.Ledger = twinLedger
	twin, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = twin.Close() })
	twinTS := httptest.NewServer(twin.Handler())
	t.Cleanup(twinTS.Close)
	v := &forkedView{e: e, twin: twin}
	honest := httputil.NewSingleHostReverseProxy(mustURL(t, e.ts.URL))
	forked := httputil.NewSingleHostReverseProxy(mustURL(t, twinTS.URL))
	v.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v.forked.Load() && strings.HasPrefix(r.URL.Path, "/v1/log/") {
			forked.ServeHTTP(w, r)
			return
		}
		honest.ServeHTTP(w, r)
	}))
	t.Cleanup(v.proxy.Close)
	return v
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// grow appends n leaves to the honest log.
func (v *forkedView) grow(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if _, _, _, _, err := v.e.srv.logLeaf(context.Background(), fmt.Appendf(nil, "honest leaf %d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func (v *forkedView) client(store HeadStore) *Client {
	return NewClient(v.proxy.URL, anptest.NewKey(v.e.t), ClientOptions{Now: v.e.clock.Now, RootKey: v.e.srv.RootKey(), HeadStore: store})
}

// TestLogWatchGrowingLogRaisesNoAlarm: heads of a log that only grows are
// each checked with a consistency proof and remembered, and no alarm rises.
func TestLogWatchGrowingLogRaisesNoAlarm(t *testing.T) {
	v := newForkedView(t, 0)
	c := v.client(nil)
	ctx := context.Background()
	for _, n := range []int{0, 1, 1, 3, 0, 8} {
		v.grow(t, n)
		h, err := c.LogHead(ctx)
		if err != nil {
			t.Fatalf("log head after growing by %d: %v", n, err)
		}
		st := c.WatchState()
		if st.Alarm != nil || st.Head == nil || st.Head.Size != h.Size || st.Head.RootHash != h.RootHash {
			t.Fatalf("watch state = %+v, want head %d and no alarm", st, h.Size)
		}
		if err := c.CheckLog(ctx); err != nil {
			t.Fatalf("CheckLog: %v", err)
		}
	}
	if got := c.WatchState().Head.Size; got != 13 {
		t.Fatalf("remembered size %d, want 13", got)
	}
}

// TestLogWatchForkRaisesAlarm: the proxy swaps the log answers for a twin
// log signed by the same key. Bigger, same-size and smaller forked heads
// each raise the alarm naming both heads; then PROPOSE and Notarize are
// refused without reaching the registry, and a second client sharing the
// HeadStore (a restart) refuses too.
func TestLogWatchForkRaisesAlarm(t *testing.T) {
	for _, tc := range []struct {
		name             string
		honest, twinSize int
	}{{"bigger", 2, 5}, {"same size", 3, 3}, {"smaller", 4, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			v := newForkedView(t, tc.twinSize)
			v.grow(t, tc.honest)
			store := &memHeadStore{}
			c := v.client(store)
			ctx := context.Background()
			good, err := c.LogHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			v.e.clock.Advance(time.Second)
			v.forked.Store(true)
			bad, err := c.LogHead(ctx)
			if !errors.Is(err, ErrLogFork) || anp.CodeOf(err) != anp.CodeForbidden {
				t.Fatalf("forked head: err = %v, want ErrLogFork with code forbidden", err)
			}
			for _, h := range []*anp.SignedTreeHead{good, bad} {
				if !strings.Contains(err.Error(), DescribeHead(h)) {
					t.Errorf("fork error %q does not name head %s", err, DescribeHead(h))
				}
			}
			var fe *ForkError
			if !errors.As(err, &fe) || fe.Alarm.Remembered.RootHash != good.RootHash || fe.Alarm.Seen.RootHash != bad.RootHash {
				t.Fatalf("fork error carries %+v", fe)
			}
			if err := c.CheckLog(ctx); !errors.Is(err, ErrLogFork) {
				t.Fatalf("CheckLog after the fork: %v", err)
			}
			v.forked.Store(false) // even the honest answers are no longer trusted
			for name, c := range map[string]*Client{"same client": c, "restarted client": v.client(store)} {
				_, err := c.Relay(ctx, "shop.anp", &anp.Envelope{Type: anp.TypePropose})
				if !errors.Is(err, ErrLogFork) {
					t.Errorf("%s: relay PROPOSE = %v, want ErrLogFork", name, err)
				}
				_, err = c.Notarize(ctx, &anp.Artifact{})
				if !errors.Is(err, ErrLogFork) || !strings.Contains(err.Error(), good.RootHash) || !strings.Contains(err.Error(), bad.RootHash) {
					t.Errorf("%s: notarize = %v, want ErrLogFork naming both roots", name, err)
				}
			}
		})
	}
}

// TestLogWatchOlderHeadIsChecked: a head older than the remembered one is
// accepted when it is a prefix of the remembered tree, and not remembered.
func TestLogWatchOlderHeadIsChecked(t *testing.T) {
	v := newForkedView(t, 0)
	v.grow(t, 3)
	c := v.client(nil)
	ctx := context.Background()
	older, err := c.LogHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v.grow(t, 4)
	if _, err := c.LogHead(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.observeHead(ctx, older); err != nil {
		t.Fatalf("an older consistent head: %v", err)
	}
	if st := c.WatchState(); st.Head.Size != 7 || st.Alarm != nil {
		t.Fatalf("state = %+v, want size 7 and no alarm", st)
	}
	forged := *older
	forged.RootHash = strings.Repeat("ab", 32)
	if err := c.observeHead(ctx, &forged); !errors.Is(err, ErrLogFork) {
		t.Fatalf("an older head that is no prefix: %v, want ErrLogFork", err)
	}
}

// TestLogEntriesPages: /v1/log/entries answers the leaves asked for, at
// most anp.MaxLogEntriesPage at a time, and refuses ranges outside the log.
func TestLogEntriesPages(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const n = anp.MaxLogEntriesPage + 44
	for i := range n {
		leaf := fmt.Appendf(nil, "leaf %d", i)
		if _, _, _, _, err := e.srv.logLeaf(ctx, leaf); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client(anptest.NewKey(t))
	first, err := c.LogEntries(ctx, 0, n)
	if err != nil || len(first) != anp.MaxLogEntriesPage || string(first[3]) != "leaf 3" {
		t.Fatalf("first page: %d entries, %v", len(first), err)
	}
	rest, err := c.LogEntries(ctx, anp.MaxLogEntriesPage, n)
	if err != nil || len(rest) != 44 || string(rest[43]) != fmt.Sprintf("leaf %d", n-1) {
		t.Fatalf("second page: %d entries, %v", len(rest), err)
	}
	for _, r := range [][2]uint64{{5, 5}, {6, 5}, {0, n + 1}} {
		if _, err := c.LogEntries(ctx, r[0], r[1]); anp.CodeOf(err) != anp.CodeBadRequest {
			t.Errorf("entries [%d, %d): err = %v, want bad_request", r[0], r[1], err)
		}
	}
}

// TestLogWatchRefusesAHeadNotDatedNow: a current head (/v1/log/head) dated
// more than the allowed clock skew from the client's clock is refused and
// not remembered, whichever way the clocks differ.
func TestLogWatchRefusesAHeadNotDatedNow(t *testing.T) {
	for _, off := range []time.Duration{anp.MaxClockSkew + time.Second, -anp.MaxClockSkew - time.Second} {
		t.Run(off.String(), func(t *testing.T) {
			e := newEnv(t, nil)
			ctx := context.Background()
			clientClock := anptest.NewClock(e.clock.Now().Add(off))
			c := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: clientClock.Now, RootKey: e.srv.RootKey()})
			_, err := c.LogHead(ctx)
			if !errors.Is(err, anp.ErrHeadNotFresh) || anp.CodeOf(err) != anp.CodeBadSignature {
				t.Fatalf("a head %v from the client's clock: %v, want ErrHeadNotFresh", -off, err)
			}
			if st := c.WatchState(); st.Head != nil || st.Alarm != nil {
				t.Fatalf("the refused head changed the watch state: %+v", st)
			}
			clientClock.Advance(-off) // the clocks agree again
			if _, err := c.LogHead(ctx); err != nil {
				t.Fatalf("a head dated now: %v", err)
			}
		})
	}
}

// TestLogWatchForkWhenTimeGoesBack: a head of a larger tree dated before
// the remembered smaller one contradicts it (the log would have shrunk
// in between) and raises the fork alarm naming both heads.
func TestLogWatchForkWhenTimeGoesBack(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for i := range 2 {
		if _, _, _, _, err := e.srv.logLeaf(ctx, fmt.Appendf(nil, "leaf %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	serverClock := e.clock
	clientClock := anptest.NewClock(serverClock.Now())
	c := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: clientClock.Now, RootKey: e.srv.RootKey()})
	first, err := c.LogHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := e.srv.logLeaf(ctx, []byte("leaf 2")); err != nil {
		t.Fatal(err)
	}
	serverClock.Advance(-time.Minute) // within the skew, but before the first head
	_, err = c.LogHead(ctx)
	var fe *ForkError
	if !errors.Is(err, ErrLogFork) || !errors.As(err, &fe) {
		t.Fatalf("a larger head dated earlier: %v, want ErrLogFork", err)
	}
	if fe.Alarm.Remembered.Size != first.Size || fe.Alarm.Seen.Size != 3 || !strings.Contains(fe.Alarm.Reason, "grew from 2 to 3 entries while its time went back") {
		t.Fatalf("alarm = %+v", fe.Alarm)
	}
}

// gatedProofs is an http.RoundTripper that holds the first consistency
// proof request until release is closed, after telling arrived.
type gatedProofs struct {
	once    sync.Once
	arrived chan struct{}
	release chan struct{}
}

func (g *gatedProofs) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == anp.RouteConsistency {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.arrived)
			<-g.release
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestLogWatchFetchesProofsWithoutTheLock: while one head waits for its
// consistency proof, the watcher's lock is free (the fork check of a new
// deal, and another head, go ahead); the waiting head, judged again when
// its proof arrives, finds the remembered head changed and leaves it.
func TestLogWatchFetchesProofsWithoutTheLock(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	grow := func(n int) {
		for range n {
			if _, _, _, _, err := e.srv.logLeaf(ctx, []byte("leaf")); err != nil {
				t.Fatal(err)
			}
		}
	}
	grow(2)
	gate := &gatedProofs{arrived: make(chan struct{}), release: make(chan struct{})}
	c := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey(), HTTP: &http.Client{Transport: gate}})
	if _, err := c.LogHead(ctx); err != nil { // remembers size 2
		t.Fatal(err)
	}
	grow(1)
	slow := make(chan error, 1)
	go func() {
		_, err := c.LogHead(ctx) // size 3: its proof 2 -> 3 is held
		slow <- err
	}()
	<-gate.arrived
	if !c.watch.mu.TryLock() {
		t.Fatal("the watcher holds its lock while it fetches a consistency proof")
	}
	c.watch.mu.Unlock()
	if err := c.forkErr(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	later, err := c.LogHead(ctx) // size 3 again, signed later: its own proof is not held
	if err != nil || later.Size != 3 {
		t.Fatalf("a second head while the first waits: %+v %v", later, err)
	}
	close(gate.release)
	if err := <-slow; err != nil {
		t.Fatalf("the head that waited for its proof: %v", err)
	}
	st := c.WatchState()
	if st.Alarm != nil || st.Head == nil || *st.Head != *later {
		t.Fatalf("watch state %+v, want the later head of size 3 and no alarm", st)
	}
}
