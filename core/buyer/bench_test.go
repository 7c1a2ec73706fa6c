package buyer_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

func benchSellers() []demomarket.SellerSpec {
	return []demomarket.SellerSpec{{Domain: "chef-supply.anp", DisplayName: "Chef Supply (demo)", Categories: []string{"kitchen"},
		Modes: []anp.Mode{anp.ModeC}, Policy: seller.CurvePolicy{List: anptest.USD(11000), Floor: anptest.USD(8400), Exponent: 1, MaxTurns: 6}}}
}

// fullDeal runs handshake, three counters, buyer+seller signatures and the
// registry countersignature.
func fullDeal(ctx context.Context, b testing.TB, c *buyer.Core) {
	s, err := c.ProposeDeal(ctx, "ANP/C.chef-supply.anp", buyer.Constraints{Item: "Dutch oven", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []int64{6000, 7000, 9500} {
		if s, err = c.Counter(ctx, s.ID, anptest.USD(p), ""); err != nil {
			b.Fatal(err)
		}
	}
	if s.State != buyer.StateConfirmed {
		b.Fatalf("state %s after 3 counters", s.State)
	}
	if _, err := c.ApproveAndSign(ctx, s.ID); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFullDeal: one whole deal over loopback HTTP, one buyer.
func BenchmarkFullDeal(b *testing.B) {
	m := startMarket(b, benchSellers())
	c := newCore(b, m, coreOpts{})
	ctx := context.Background()
	fullDeal(ctx, b, c) // warm: registry token, WebSocket, seller record
	b.ReportAllocs()
	count := startCounting()
	cpu0 := processCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fullDeal(ctx, b, c)
	}
	b.StopTimer()
	cpu := (processCPU(b) - cpu0) / time.Duration(b.N)
	reportCrypto(b, count, cpu, b.N)
}

// BenchmarkConcurrentDeals64: 64 buyers (own identity, token and WebSocket
// each) closing deals at once against one registry and seller.
func BenchmarkConcurrentDeals64(b *testing.B) {
	m := startMarket(b, benchSellers())
	cores := make([]*buyer.Core, 64)
	for i := range cores {
		cores[i] = newCore(b, m, coreOpts{})
	}
	var next atomic.Int64
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	count := startCounting()
	cpu0 := processCPU(b)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := cores[int(next.Add(1)-1)%len(cores)]
		for pb.Next() {
			fullDeal(context.Background(), b, c)
		}
	})
	rate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()
	cpu := (processCPU(b) - cpu0) / time.Duration(b.N)
	b.ReportMetric(rate, "deals/s")
	limit := reportCrypto(b, count, cpu, b.N)
	b.ReportMetric(100*rate/limit, "%-of-crypto-limit")
}

// BenchmarkIdleSessionMemory reports heap bytes per open, idle session
// (buyer, registry witness and seller together, all in this process) and
// the size of the buyer's stored record.
func BenchmarkIdleSessionMemory(b *testing.B) {
	m := startMarket(b, benchSellers())
	c := newCore(b, m, coreOpts{})
	ctx := context.Background()
	const n = 200
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		if _, err := c.ProposeDeal(ctx, "ANP/C.chef-supply.anp", buyer.Constraints{Item: "Dutch oven", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	for i := 0; i < b.N; i++ {
		_ = i
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/session")
	all, _ := c.ListSessions(ctx)
	b.ReportMetric(float64(len(all)), "sessions")
}
