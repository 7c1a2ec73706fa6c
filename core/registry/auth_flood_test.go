package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// floodCount is how many anonymous challenge requests a flood test sends:
// 100,000 in a normal run (some 5 s on two cores), 2,000 under the race
// detector (which makes each loopback request some 25 times slower) or with
// -short. scripts/test.sh runs the full count in its flood stage.
func floodCount() int {
	if raceEnabled || testing.Short() {
		return 2_000
	}
	return 100_000
}

// attackerSource is the loopback address floods come from; buyers use
// 127.0.0.1, so per-source limits tell them apart as they would tell two
// hosts apart.
const attackerSource = "127.0.0.2"

// sourceClient is an HTTP client whose connections come from the local
// address source.
func sourceClient(t testing.TB, source string, conns int) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// floodResult counts a flood's answers.
type floodResult struct {
	sent       int
	byStatus   map[int]int
	retryAfter string // of one 429 answer
	elapsed    time.Duration
}

// floodChallenges sends n anonymous POST /v1/auth/challenge from source
// over workers connections. during, if set, runs once half of them were
// answered, while the flood goes on.
func floodChallenges(t *testing.T, base string, source string, n, workers int, during func()) floodResult {
	t.Helper()
	hc := sourceClient(t, source, workers)
	body, err := json.Marshal(anp.ChallengeRequest{PubKey: anptest.PubHex(anptest.NewKey(t))})
	if err != nil {
		t.Fatal(err)
	}
	var (
		next, answered atomic.Int64
		mu             sync.Mutex
		res            = floodResult{sent: n, byStatus: map[int]int{}}
		wg             sync.WaitGroup
		duringDone     = make(chan struct{})
		startDuring    sync.Once
	)
	if during == nil {
		close(duringDone)
	}
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				resp, err := hc.Post(base+anp.RouteChallenge, "application/json", bytes.NewReader(body))
				if err != nil {
					t.Errorf("flood request: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				res.byStatus[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests && res.retryAfter == "" {
					res.retryAfter = resp.Header.Get("Retry-After")
				}
				mu.Unlock()
				if answered.Add(1) == int64(n/2) && during != nil {
					startDuring.Do(func() {
						go func() {
							defer close(duringDone)
							during()
						}()
					})
				}
			}
		}()
	}
	wg.Wait()
	<-duringDone
	res.elapsed = time.Since(start)
	return res
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// loginAndDiscover has a fresh buyer identity log in and discover sellers.
func (e *testEnv) loginAndDiscover(t *testing.T, want int) {
	t.Helper()
	c := e.client(anptest.NewKey(t))
	got, err := c.Discover(context.Background(), "", "", 0)
	if err != nil {
		t.Errorf("a fresh buyer could not log in and discover: %v", err)
		return
	}
	if len(got) != want {
		t.Errorf("a fresh buyer discovered %d sellers, want %d", len(got), want)
	}
}

// TestLoginFloodLeavesNoState: challenges are stateless. Even with no
// per-source limit (as if the attacker had an address per request), a
// flood of anonymous challenge requests stores nothing, and buyers log in
// and discover sellers during and after it.
func TestLoginFloodLeavesNoState(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AuthRate = -1 })
	e.addSeller("pans.anp")
	nonces := e.srv.nonces.(*memNonces)
	nonces.mu.Lock()
	before := len(nonces.seen)
	nonces.mu.Unlock()
	heapBefore := heapInUse()

	res := floodChallenges(t, e.ts.URL, attackerSource, floodCount(), 8, func() { e.loginAndDiscover(t, 1) })
	heapAfter := heapInUse()
	if res.byStatus[http.StatusOK] != res.sent {
		t.Fatalf("flood answers %v, want %d × 200 (no per-source limit in this test)", res.byStatus, res.sent)
	}
	nonces.mu.Lock()
	after := len(nonces.seen)
	nonces.mu.Unlock()
	if after != before+1 { // the one buyer that logged in during the flood
		t.Fatalf("replay store holds %d entries after the flood, %d before: challenges must not be stored", after, before)
	}
	e.loginAndDiscover(t, 1)
	t.Logf("%d anonymous challenge requests in %s (%.0f/s), all answered 200; heap %.1f MB before, %.1f MB after; replay store %d → %d entries (one login during the flood)",
		res.sent, res.elapsed.Round(time.Millisecond), float64(res.sent)/res.elapsed.Seconds(), mb(heapBefore), mb(heapAfter), before, after)
}

// TestLoginFloodIsRateLimitedPerSource: one source gets its burst and then
// 429 rate_limited with Retry-After, while a buyer from another address
// logs in during and after the flood; the attacker's bucket is forgotten
// once it refilled.
func TestLoginFloodIsRateLimitedPerSource(t *testing.T) {
	e := newEnv(t, nil) // default limits; the fake clock stands still, so no token comes back
	e.addSeller("pans.anp")
	res := floodChallenges(t, e.ts.URL, attackerSource, floodCount(), 8, func() { e.loginAndDiscover(t, 1) })
	if res.byStatus[http.StatusOK] != DefaultAuthBurst || res.byStatus[http.StatusTooManyRequests] != res.sent-DefaultAuthBurst {
		t.Fatalf("flood answers %v, want %d × 200 then %d × 429", res.byStatus, DefaultAuthBurst, res.sent-DefaultAuthBurst)
	}
	if res.retryAfter != "1" {
		t.Fatalf("Retry-After %q, want 1 (one token per 1/%g s)", res.retryAfter, DefaultAuthRate)
	}
	e.loginAndDiscover(t, 1)
	if n := e.srv.limits.auth.tracked(); n != 2 {
		t.Fatalf("auth limiter tracks %d sources, want 2 (attacker and buyer)", n)
	}
	e.clock.Advance(e.srv.limits.auth.idle)
	e.loginAndDiscover(t, 1)
	if n := e.srv.limits.auth.tracked(); n != 1 {
		t.Fatalf("auth limiter tracks %d sources after they refilled, want 1 (the last buyer)", n)
	}
	t.Logf("%d anonymous challenge requests from one address in %s (%.0f/s): %d answered 200, %d refused 429 rate_limited (Retry-After %s s)",
		res.sent, res.elapsed.Round(time.Millisecond), float64(res.sent)/res.elapsed.Seconds(), res.byStatus[http.StatusOK], res.byStatus[http.StatusTooManyRequests], res.retryAfter)
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
