package sandbox

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func BenchmarkParseReply(b *testing.B) {
	s := testSession()
	reply := `{"action":"counter","price":84.5,"message":"How about 84.50 for the espresso machine?"}`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseReply(reply, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOllamaDecide is one decision through the Ollama client against
// a loopback server that answers at once: the decider's own overhead
// (prompt, request, parsing, guard) without a model.
func BenchmarkOllamaDecide(b *testing.B) {
	f := newFakeOllama(b, DefaultModel)
	f.script(content(`{"action":"counter","price":84.5,"message":"How about 84.50?"}`))
	d, err := NewOllamaDecider(OllamaConfig{Host: f.srv.URL, HTTP: f.srv.Client(), Timeout: 5 * time.Second, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	s := testSession()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decide(b.Context(), s); err != nil {
			b.Fatal(err)
		}
	}
}
