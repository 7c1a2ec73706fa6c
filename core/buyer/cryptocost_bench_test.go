package buyer_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// processCPU is the user and system CPU time of this process so far.
func processCPU(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ed25519Cost measures, in this run, the CPU of one Ed25519 signature and
// one verification over an envelope-sized message (crypto/ed25519 alone).
func ed25519Cost(b testing.TB) (sign, verify time.Duration) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := key.Public().(ed25519.PublicKey)
	msg := []byte(strings.Repeat("x", 600))
	const n = 2000
	sig := ed25519.Sign(key, msg)
	start := processCPU(b)
	for i := 0; i < n; i++ {
		sig = ed25519.Sign(key, msg)
	}
	mid := processCPU(b)
	for i := 0; i < n; i++ {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify failed")
		}
	}
	end := processCPU(b)
	return (mid - start) / n, (end - mid) / n
}

// cryptoCounter reads the Ed25519 counts of the clinchcount build.
type cryptoCounter struct {
	signs, verifies map[anp.Purpose]int64
	ok              bool
}

func startCounting() cryptoCounter {
	s, v, ok := anp.CryptoCounts()
	return cryptoCounter{signs: s, verifies: v, ok: ok}
}

// since returns the signs and verifies made since c, per deal, with a
// per-purpose breakdown.
func (c cryptoCounter) since(deals int) (signs, verifies float64, detail string) {
	s, v, _ := anp.CryptoCounts()
	var parts []string
	sum := func(now, was map[anp.Purpose]int64, what string) float64 {
		var total int64
		for p, n := range now {
			d := n - was[p]
			total += d
			if d != 0 {
				parts = append(parts, what+" "+string(p)+"="+ftoa(float64(d)/float64(deals)))
			}
		}
		return float64(total) / float64(deals)
	}
	signs = sum(s, c.signs, "sign")
	verifies = sum(v, c.verifies, "verify")
	sort.Strings(parts)
	return signs, verifies, strings.Join(parts, " ")
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// reportCrypto reports the Ed25519 operations per deal (clinchcount
// builds), the protocol's minimum, the CPU per deal and its ratio to the
// CPU of the required Ed25519 operations measured in this run. It returns
// the crypto-bound limit in deals per second: the cores (GOMAXPROCS)
// divided by the required Ed25519 CPU of one deal.
func reportCrypto(b *testing.B, count cryptoCounter, cpuPerDeal time.Duration, deals int) (limit float64) {
	signCost, verifyCost := ed25519Cost(b)
	required := signCost*requiredSigns + verifyCost*requiredVerifies
	b.ReportMetric(float64(cpuPerDeal.Microseconds()), "cpu-µs/deal")
	b.ReportMetric(float64(required.Microseconds()), "required-ed25519-µs/deal")
	b.ReportMetric(float64(cpuPerDeal)/float64(required), "cpu/required-ed25519")
	b.ReportMetric(requiredSigns, "required-signs")
	b.ReportMetric(requiredVerifies, "required-verifies")
	limit = float64(runtime.GOMAXPROCS(0)) / required.Seconds()
	if !count.ok {
		return limit
	}
	signs, verifies, detail := count.since(deals)
	b.ReportMetric(signs, "signs/op")
	b.ReportMetric(verifies, "verifies/op")
	b.Logf("per deal: %s", detail)
	return limit
}

// The protocol's minimum for the benchmark's deal (ten envelopes: PROPOSE,
// three buyer counters and COMMIT, five seller replies ending in CONFIRM):
// every signature made once, and checked once by each party that must
// check it.
//
//	signs:    10 envelopes, 5 relay signatures (registry → seller),
//	          3 artifact signatures (buyer, seller, registry),
//	          3 tree heads (the fresh heads the buyer's log watcher asks
//	          for at propose and at approval, the receipt's)          = 21
//	verifies: 10 envelopes by the recipient + 10 by the registry witness,
//	          5 relay signatures by the seller,
//	          buyer's artifact signature by seller and registry (2),
//	          seller's by buyer and registry (2), registry's by buyer (1),
//	          the 3 tree heads by the buyer                            = 33
//
// Signed objects that do not change between deals (the buyer's registry
// token, the registry key chain, the seller's domain binding and endpoint
// record) are checked once per party, not per deal: their share of a deal
// is zero. A party never checks its own signatures.
const (
	requiredSigns    = 21
	requiredVerifies = 33
)
