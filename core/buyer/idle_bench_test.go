package buyer_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// partyOf names the party that allocated on a stack: the buyer engine and
// its registry client, the registry server, or the seller node. Frames are
// read from the allocation outwards; the first that names a party wins.
// What anp's process-wide key memo holds (a key's verdict and −A, at most
// 4,096 keys (anp.keyMemoSize) however many sessions there are) is "key-memo": a fixed
// cost of the process, shared by every party in it, not a cost per
// session, though it grows with the sessions until it is full.
func partyOf(stack []uintptr) string {
	frames := runtime.CallersFrames(stack)
	for {
		f, more := frames.Next()
		switch fn := f.Function; {
		case strings.Contains(fn, "core/anp.classifyEdKey"), strings.Contains(fn, "core/anp.(*memo["):
			return "key-memo"
		case strings.Contains(fn, "core/registry.(*Client)"), strings.Contains(fn, "core/buyer."):
			return "buyer"
		case strings.Contains(fn, "core/registry."):
			return "registry"
		case strings.Contains(fn, "core/seller."):
			return "seller"
		}
		if !more {
			return "other"
		}
	}
}

// inUseByParty is the heap in use, by party, as the memory profile (at
// MemProfileRate 1) records it after two collections.
func inUseByParty() map[string]int64 {
	runtime.GC()
	runtime.GC()
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	out := map[string]int64{}
	for _, r := range recs {
		out[partyOf(r.Stack())] += r.InUseBytes()
	}
	return out
}

// maxProfiledSessions: above it the benchmark reports only the heap of
// all parties together (a memory profile at rate 1 would take too long).
const maxProfiledSessions = 5000

// idleSessions is how many sessions BenchmarkIdleSessionByParty opens:
// CLINCH_IDLE_SESSIONS, or 400.
func idleSessions(b *testing.B) int {
	if v := os.Getenv("CLINCH_IDLE_SESSIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("CLINCH_IDLE_SESSIONS=%q is not a positive count", v)
		}
		return n
	}
	return 400
}

// BenchmarkIdleSessionByParty opens sessions (PROPOSE and the seller's
// first answer) and leaves them idle, then reports the heap each party
// holds per session: the buyer engine, the registry and the seller node,
// all in this process with in-memory stores, told apart by the stacks of
// their allocations (memory profile at rate 1). CLINCH_IDLE_SESSIONS sets
// the number of sessions (400 by default; 100000 for the large run, which
// reports the heap of all three parties together). The
// stores are in memory, so a party's figure includes its stored records.
func BenchmarkIdleSessionByParty(b *testing.B) {
	n := idleSessions(b)
	byParty := n <= maxProfiledSessions
	if byParty {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = old }()
	}
	m := startMarket(b, benchSellers())
	const buyers = 16
	cores := make([]*buyer.Core, buyers)
	for i := range cores {
		cores[i] = newCore(b, m, coreOpts{})
	}
	for _, c := range cores { // warm: each party's per-connection state and caches exist before the count
		if _, err := c.ProposeDeal(context.Background(), "ANP/C.chef-supply.anp", buyer.Constraints{Item: "Dutch oven", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	var before, after map[string]int64
	var total0, total1 runtime.MemStats
	if byParty {
		before = inUseByParty()
	}
	runtime.GC()
	runtime.ReadMemStats(&total0)
	var wg sync.WaitGroup
	for w := range cores {
		wg.Add(1)
		go func(c *buyer.Core, count int) {
			defer wg.Done()
			for i := 0; i < count; i++ {
				if _, err := c.ProposeDeal(context.Background(), "ANP/C.chef-supply.anp", buyer.Constraints{Item: "Dutch oven", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		}(cores[w], n/buyers+btoi(w < n%buyers))
	}
	wg.Wait()
	runtime.GC()
	runtime.ReadMemStats(&total1)
	for i := 0; i < b.N; i++ {
		_ = i
	}
	if byParty {
		after = inUseByParty()
		for _, p := range []string{"buyer", "registry", "seller", "key-memo", "other"} {
			b.ReportMetric(float64(after[p]-before[p])/float64(n), p+"-B/session")
		}
	}
	b.ReportMetric(float64(int64(total1.HeapAlloc)-int64(total0.HeapAlloc))/float64(n), "all-parties-B/session")
	b.ReportMetric(float64(total1.HeapInuse), "heap-inuse-B")
	b.ReportMetric(float64(n), "sessions")
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}
