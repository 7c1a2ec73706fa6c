package secrets

import (
	"io"
	"strings"
	"testing"
)

// BenchmarkRedactorWriter redacts a typical JSON log line with ten secrets
// registered.
func BenchmarkRedactorWriter(b *testing.B) {
	r := NewRedactor()
	for i := range 10 {
		r.Add(strings.Repeat(string(rune('a'+i)), 32))
	}
	line := []byte(`{"level":"info","session":"4f1c","seller":"kitchen-outlet.anp","msg":"counter received","key":"` + strings.Repeat("c", 32) + "\"}\n")
	w := r.Writer(io.Discard)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
}
