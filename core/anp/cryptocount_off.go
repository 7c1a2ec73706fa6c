//go:build !clinchcount

package anp

// Without the clinchcount build tag nothing is counted (cryptocount_on.go).

func countSign(Purpose) {}

func countVerify(Purpose) {}

// CryptoCounts reports ok false: this build counts nothing. Build with
// -tags clinchcount for the benchmarks' Ed25519 counts.
func CryptoCounts() (signs, verifies map[Purpose]int64, ok bool) { return nil, nil, false }

// ResetCryptoCounts does nothing in this build.
func ResetCryptoCounts() {}
