package secrets

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

func TestRedactorString(t *testing.T) {
	r := NewRedactor("s3cr3t-token", "", "short", "abcdef", "abcdefghij", `pa"ss\wd`)
	tests := []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"token=s3cr3t-token;", "token=[REDACTED];"},
		{"s3cr3t-tokens3cr3t-token", "[REDACTED][REDACTED]"},
		{"short values stay: short", "short values stay: short"},
		{"longest wins: abcdefghij!", "longest wins: [REDACTED]!"},
		{"abcdef and abcdefgh", "[REDACTED] and [REDACTED]gh"},
		{"overlap: abcdefabcdef", "overlap: [REDACTED][REDACTED]"},
		{`literal pa"ss\wd`, "literal [REDACTED]"},
		{`json {"p":"pa\"ss\\wd"}`, `json {"p":"[REDACTED]"}`},
		{"", ""},
	}
	for _, tc := range tests {
		if got := r.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactorMergesOverlappingSecrets(t *testing.T) {
	r := NewRedactor("abcdef", "defghi")
	if got := r.String("xx abcdefghi yy"); got != "xx [REDACTED] yy" {
		t.Fatalf("got %q: a fragment of a secret survived", got)
	}
	r = NewRedactor("aaaaaa")
	if got := r.String("aaaaaaaa"); got != "[REDACTED]" {
		t.Fatalf("self-overlap: got %q", got)
	}
}

func TestRedactorHTMLEscapedJSON(t *testing.T) {
	r := NewRedactor("<tok&en>")
	if got := r.String(`{"k":"\u003ctok\u0026en\u003e"}`); got != `{"k":"[REDACTED]"}` {
		t.Fatalf("got %q", got)
	}
}

func TestRedactorZeroAndNil(t *testing.T) {
	var zero Redactor
	if got := zero.String("abcdefgh"); got != "abcdefgh" {
		t.Fatalf("zero value changed text: %q", got)
	}
	zero.Add("abcdefgh")
	if got := zero.String("x abcdefgh"); got != "x [REDACTED]" {
		t.Fatalf("zero value after Add: %q", got)
	}
	var nilR *Redactor
	if got := nilR.String("abcdefgh"); got != "abcdefgh" {
		t.Fatalf("nil redactor changed text: %q", got)
	}
}

func TestRedactorWriterSplitsAtEveryPosition(t *testing.T) {
	const secret = "7f3a9c41e2d8b6a0"
	r := NewRedactor(secret)
	input := "first line " + secret + "\nsecond " + secret + secret + " end\nlast " + secret
	want := "first line [REDACTED]\nsecond [REDACTED][REDACTED] end\nlast [REDACTED]"
	for i := 0; i <= len(input); i++ {
		for j := i; j <= len(input); j += 7 {
			var out bytes.Buffer
			w := r.Writer(&out)
			for _, part := range []string{input[:i], input[i:j], input[j:]} {
				n, err := w.Write([]byte(part))
				if err != nil || n != len(part) {
					t.Fatalf("Write: n=%d err=%v", n, err)
				}
			}
			if strings.Contains(out.String(), "last") {
				t.Fatalf("split %d/%d: the unterminated line was written before Flush", i, j)
			}
			if err := w.(interface{ Flush() error }).Flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != want {
				t.Fatalf("split at %d/%d: got %q", i, j, out.String())
			}
		}
	}
}

func TestRedactorWriterLongLine(t *testing.T) {
	const secret = "0123456789abcdef"
	r := NewRedactor(secret)
	var out bytes.Buffer
	w := r.Writer(&out)
	// Write an unterminated line far over the cap, in chunks that split the
	// secret, so parts are written before the line ends.
	var in strings.Builder
	for in.Len() < 3*maxPendingLine {
		in.WriteString("..." + secret)
	}
	data := in.String()
	for i := 0; i < len(data); i += 1000 {
		w.Write([]byte(data[i:min(i+1000, len(data))]))
	}
	if out.Len() == 0 {
		t.Fatal("nothing written although the line is over the cap")
	}
	w.(interface{ Flush() error }).Flush()
	if got, want := out.String(), strings.ReplaceAll(data, secret, Redacted); got != want {
		t.Fatalf("long line redacted wrongly (%d bytes vs %d)", len(got), len(want))
	}
}

func TestRedactorWriterMultilineSecret(t *testing.T) {
	secret := "line-one\nline-two"
	r := NewRedactor(secret)
	var out bytes.Buffer
	w := r.Writer(&out)
	w.Write([]byte("a line-one\n"))
	w.Write([]byte("line-two b\n"))
	if got := out.String(); got != "a [REDACTED] b\n" {
		t.Fatalf("got %q", got)
	}
}

func TestRedactorWriterAddAfterCreate(t *testing.T) {
	r := NewRedactor()
	var out bytes.Buffer
	w := r.Writer(&out)
	w.Write([]byte("before later-secret\n"))
	r.Add("later-secret")
	w.Write([]byte("after later-secret\n"))
	if got := out.String(); got != "before later-secret\nafter [REDACTED]\n" {
		t.Fatalf("got %q", got)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRedactorWriterReportsSinkErrors(t *testing.T) {
	w := NewRedactor("abcdefgh").Writer(failingWriter{})
	if n, err := w.Write([]byte("partial")); err != nil || n != 7 {
		t.Fatalf("buffered write: %d %v", n, err)
	}
	if _, err := w.Write([]byte(" line\n")); err == nil || err.Error() != "disk full" {
		t.Fatalf("got %v", err)
	}
}

func TestRedactorWriterConcurrent(t *testing.T) {
	const secret = "concurrent-secret-42"
	r := NewRedactor(secret)
	var out bytes.Buffer
	w := r.Writer(&out)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				fmt.Fprintf(w, "{\"g\":%d,\"i\":%d,\"key\":%q}\n", g, i, secret)
				if i%10 == 0 {
					r.Add(fmt.Sprintf("added-%d-%d", g, i))
				}
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"g":`) || !strings.HasSuffix(l, `"key":"[REDACTED]"}`) {
			t.Fatalf("line %q is torn or not redacted", l)
		}
	}
}

// TestRedactorWriterUnderZerolog logs secrets through a real zerolog logger,
// whose JSON escaping changes a credential that contains quotes.
func TestRedactorWriterUnderZerolog(t *testing.T) {
	b := testBlindKeys(t)
	id := mustIdentity(t)
	idHex := hex.EncodeToString(id.Seed())
	r := NewRedactor(append(b.Values(), idHex)...)
	var out bytes.Buffer
	log := zerolog.New(r.Writer(&out))
	log.Info().Str("credential", credOutlet).Msg("sealing")
	log.Error().Err(fmt.Errorf("bad key %s", idHex)).Msg("oops")
	log.Info().Str("note", "prefix"+credShop+"suffix").Send()
	got := out.String()
	for _, secret := range []string{credShop, credOutlet, idHex, `outlet\"`} {
		if strings.Contains(got, secret) {
			t.Fatalf("log output leaks %q:\n%s", secret, got)
		}
	}
	if n := strings.Count(got, Redacted); n != 3 {
		t.Fatalf("%d redactions in:\n%s", n, got)
	}
	if !strings.Contains(got, `"note":"prefix[REDACTED]suffix"`) {
		t.Fatalf("unexpected output:\n%s", got)
	}
}
