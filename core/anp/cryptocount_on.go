//go:build clinchcount

package anp

import "sync"

// The counting hook of the benchmarks (build tag clinchcount): every
// Ed25519 signature made by Sign and checked by Verify, by purpose. Builds
// without the tag have no counters (cryptocount_off.go).
var cryptoCount counters

type counters struct {
	sync.Mutex
	signs, verifies map[Purpose]int64
}

func countSign(p Purpose) { cryptoCount.add(&cryptoCount.signs, p) }

func countVerify(p Purpose) { cryptoCount.add(&cryptoCount.verifies, p) }

func (c *counters) add(m *map[Purpose]int64, p Purpose) {
	c.Lock()
	if *m == nil {
		*m = map[Purpose]int64{}
	}
	(*m)[p]++
	c.Unlock()
}

// CryptoCounts returns the Ed25519 signatures made and verified since the
// process started (or since ResetCryptoCounts), by purpose; ok is false in
// builds without the clinchcount tag, which count nothing.
func CryptoCounts() (signs, verifies map[Purpose]int64, ok bool) {
	cryptoCount.Lock()
	defer cryptoCount.Unlock()
	return copyCounts(cryptoCount.signs), copyCounts(cryptoCount.verifies), true
}

// ResetCryptoCounts sets the counters to zero.
func ResetCryptoCounts() {
	cryptoCount.Lock()
	cryptoCount.signs, cryptoCount.verifies = nil, nil
	cryptoCount.Unlock()
}

func copyCounts(m map[Purpose]int64) map[Purpose]int64 {
	out := make(map[Purpose]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
