package buyer_test

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// thinkingPolicy answers as its curve does after a fixed delay: a seller
// whose answers take time (a remote node, a model deciding).
type thinkingPolicy struct {
	seller.CurvePolicy
	think time.Duration
}

func (p thinkingPolicy) wait(ctx context.Context) error {
	t := time.NewTimer(p.think)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p thinkingPolicy) Open(ctx context.Context, s seller.SessionView, b anp.ProposeBody) (seller.Decision, error) {
	if err := p.wait(ctx); err != nil {
		return seller.Decision{}, err
	}
	return p.CurvePolicy.Open(ctx, s, b)
}

func (p thinkingPolicy) Respond(ctx context.Context, s seller.SessionView, offer anp.Money) (seller.Decision, error) {
	if err := p.wait(ctx); err != nil {
		return seller.Decision{}, err
	}
	return p.CurvePolicy.Respond(ctx, s, offer)
}

// tenSellers are ten sellers of one category with different curves, each
// answering after think.
func tenSellers(think time.Duration) []demomarket.SellerSpec {
	var specs []demomarket.SellerSpec
	for i := 0; i < 10; i++ {
		curve := seller.CurvePolicy{List: anptest.USD(11000 + int64(i)*300), Floor: anptest.USD(8000 + int64(i)*200), Exponent: 0.5 + float64(i)/5, MaxTurns: 6}
		spec := demomarket.SellerSpec{Domain: fmt.Sprintf("bench-%d.anp", i), DisplayName: fmt.Sprintf("Bench %d (demo)", i),
			Categories: []string{"bench"}, Modes: []anp.Mode{anp.ModeC}, Policy: curve}
		if think > 0 {
			spec.Custom = thinkingPolicy{curve, think}
		}
		specs = append(specs, spec)
	}
	return specs
}

// BenchmarkCascade10 compares, in one run, a parallel cascade over ten
// sellers with the slowest of the ten negotiations run alone (propose and
// negotiate with the same seller, decider and think time, one seller after
// the other). Each iteration does both; cascade/slowest is the median of the
// per-iteration ratios. One untimed cascade first makes the key pins and
// connections that the first negotiation with a seller sets up, so that no
// iteration's singles pay for them. In this process the three parties share
// GOMAXPROCS cores, so the cascade cannot take less than the ten
// negotiations' CPU (ten-singles-cpu-µs) divided by the cores: with sellers
// that answer at once (think=0) it is CPU-bound, and cascade/cpu-floor is
// its wall time over that floor; with sellers that take 20 ms an answer
// (think=20ms), as remote ones do, it is not. tail-µs is what the cascade
// took after its last seller's outcome was reported (cancelling the
// outbid deals, releasing the winner).
func BenchmarkCascade10(b *testing.B) {
	for _, think := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("think=%s", think), func(b *testing.B) { benchCascade(b, think) })
	}
}

func benchCascade(b *testing.B, think time.Duration) {
	m := startMarket(b, tenSellers(think))
	c := newCore(b, m, coreOpts{})
	ctx := context.Background()
	cons := buyer.Constraints{Item: "Stand mixer", MaxBudget: anptest.USD(10000), MaxTurns: 6}
	var ratios []float64
	var cascadeTotal, slowestTotal, sumTotal, tailTotal time.Duration
	var singleCPU, cascadeCPU time.Duration
	req := buyer.CascadeRequest{Category: "bench", Constraints: cons, MaxSellers: 10,
		Order: buyer.CascadeParallel, PerSellerTimeout: time.Minute, Decider: concession.Default()}
	if _, err := c.NegotiateCascade(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var slowest time.Duration
		cpu0 := processCPU(b)
		for s := 0; s < 10; s++ {
			start := time.Now()
			ses, err := c.ProposeDeal(ctx, fmt.Sprintf("ANP/C.bench-%d.anp", s), cons, buyer.ProposeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Negotiate(ctx, ses.ID, concession.Default()); err != nil {
				b.Fatal(err)
			}
			slowest = max(slowest, time.Since(start))
			sumTotal += time.Since(start)
		}
		cpu1 := processCPU(b)
		var lastOutcome time.Time // when the last seller's outcome was reported
		req.Progress = func(buyer.CascadeOutcome, int, int) { lastOutcome = time.Now() }
		start := time.Now()
		res, err := c.NegotiateCascade(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		tailTotal += time.Since(lastOutcome)
		singleCPU += cpu1 - cpu0
		cascadeCPU += processCPU(b) - cpu1
		if len(res.Outcomes) != 10 {
			b.Fatalf("%d outcomes, want 10", len(res.Outcomes))
		}
		ratios = append(ratios, float64(took)/float64(slowest))
		cascadeTotal += took
		slowestTotal += slowest
	}
	b.StopTimer()
	sort.Float64s(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "cascade/slowest")
	b.ReportMetric(float64(cascadeTotal.Microseconds())/float64(b.N), "cascade-µs")
	b.ReportMetric(float64(slowestTotal.Microseconds())/float64(b.N), "slowest-single-µs")
	b.ReportMetric(float64(sumTotal.Microseconds())/float64(b.N), "ten-singles-µs")
	b.ReportMetric(float64(singleCPU.Microseconds())/float64(b.N), "ten-singles-cpu-µs")
	b.ReportMetric(float64(cascadeCPU.Microseconds())/float64(b.N), "cascade-cpu-µs")
	b.ReportMetric(float64(tailTotal.Microseconds())/float64(b.N), "tail-µs")
	if think == 0 {
		floor := singleCPU / time.Duration(runtime.GOMAXPROCS(0))
		b.ReportMetric(float64(cascadeTotal)/float64(floor), "cascade/cpu-floor")
	}
}
