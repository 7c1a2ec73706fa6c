package anp

import (
	"encoding/hex"
	"testing"
)

// TestHexStringMatchesEncodeToString: hexString is hex.EncodeToString for
// every length, on both sides of its stack buffer.
func TestHexStringMatchesEncodeToString(t *testing.T) {
	for n := 0; n <= 70; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		if got, want := hexString(b), hex.EncodeToString(b); got != want {
			t.Fatalf("%d bytes: %q, want %q", n, got, want)
		}
	}
}
