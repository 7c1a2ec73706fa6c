package secrets

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces every secret that a Redactor finds.
const Redacted = "[REDACTED]"

// MinSecretLen is the shortest value a Redactor accepts; shorter values
// would match ordinary text.
const MinSecretLen = 6

// maxPendingLine bounds how much of an unterminated line a redacting
// writer holds before it writes out the part that can no longer change.
const maxPendingLine = 64 << 10

// Redactor replaces known secret values with "[REDACTED]". It matches each
// secret literally and also in its JSON string escaping (as a JSON log line
// would carry a secret containing quotes or backslashes). Overlapping
// matches are merged, so no fragment of a secret survives next to the
// marker. The zero value is ready to use; a Redactor is safe for concurrent
// use.
type Redactor struct {
	mu  sync.Mutex // serialises Add
	set atomic.Pointer[secretSet]
}

// secretSet is an immutable snapshot of the secrets, longest first.
type secretSet struct {
	values    []string
	maxLen    int
	multiline bool // some secret contains a line break
}

// NewRedactor returns a Redactor for secrets. Empty values and values
// shorter than MinSecretLen are ignored.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add registers more secrets (shorter than MinSecretLen ignored). Writers
// made earlier by Writer use them from their next write on.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var values []string
	if old := r.set.Load(); old != nil {
		values = slices.Clone(old.values)
	}
	for _, s := range secrets {
		if len(s) < MinSecretLen {
			continue
		}
		for _, form := range secretForms(s) {
			if !slices.Contains(values, form) {
				values = append(values, form)
			}
		}
	}
	slices.SortFunc(values, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	next := &secretSet{values: values}
	if len(values) > 0 {
		next.maxLen = len(values[0])
	}
	for _, v := range values {
		next.multiline = next.multiline || strings.ContainsAny(v, "\r\n")
	}
	r.set.Store(next)
}

// secretForms returns s and its JSON string escapings (with and without
// HTML escaping) when they differ from s.
func secretForms(s string) []string {
	forms := []string{s}
	for _, html := range []bool{false, true} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) != nil {
			continue
		}
		q := strings.TrimSuffix(buf.String(), "\n")
		if e := q[1 : len(q)-1]; e != s && !slices.Contains(forms, e) {
			forms = append(forms, e)
		}
	}
	return forms
}

// String returns s with every occurrence of every secret replaced by
// "[REDACTED]".
func (r *Redactor) String(s string) string {
	set := r.snapshot()
	if set == nil {
		return s
	}
	spans := set.find(s)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	at := 0
	for _, sp := range spans {
		b.WriteString(s[at:sp.from])
		b.WriteString(Redacted)
		at = sp.to
	}
	b.WriteString(s[at:])
	return b.String()
}

func (r *Redactor) snapshot() *secretSet {
	if r == nil {
		return nil
	}
	set := r.set.Load()
	if set == nil || len(set.values) == 0 {
		return nil
	}
	return set
}

type span struct{ from, to int }

// find returns the merged, ordered spans of s covered by any secret.
func (set *secretSet) find(s string) []span {
	var spans []span
	for _, v := range set.values {
		for i := 0; i+len(v) <= len(s); {
			j := strings.Index(s[i:], v)
			if j < 0 {
				break
			}
			spans = append(spans, span{i + j, i + j + len(v)})
			i += j + 1
		}
	}
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		if sp.from < last.to {
			last.to = max(last.to, sp.to)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// Writer returns a writer for log sinks that redacts line by line: it
// buffers input until a newline and writes each run of complete lines,
// redacted, to w in one Write, so a secret split across writes is still
// caught. It is safe for concurrent use; concurrent callers should write
// whole lines (as zerolog does) so their lines do not interleave.
//
// An unterminated line longer than 64 KiB is written out in part, keeping
// back any tail that could begin a secret. When a secret contains a line
// break, such a tail is held back at line ends too, until more input comes
// or Flush is called. The returned writer has a Flush() error method that
// writes out a pending partial line.
//
// When w fails, Write reports the error but also len(p), because the input
// was taken into the buffer; the lines that failed are dropped.
func (r *Redactor) Writer(w io.Writer) io.Writer {
	return &redactWriter{r: r, w: w}
}

type redactWriter struct {
	r       *Redactor
	w       io.Writer
	mu      sync.Mutex
	pending []byte
}

func (rw *redactWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.pending = append(rw.pending, p...)
	cut := bytes.LastIndexByte(rw.pending, '\n') + 1
	switch set := rw.r.snapshot(); {
	case cut == 0 && len(rw.pending) > maxPendingLine:
		cut = rw.safeCut(set, len(rw.pending))
	case set != nil && set.multiline:
		// A secret with a line break may continue past the last newline.
		cut = rw.safeCut(set, cut)
	}
	if cut <= 0 {
		return len(p), nil
	}
	return len(p), rw.emit(cut)
}

// Flush writes out any pending partial line, redacted.
func (rw *redactWriter) Flush() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if len(rw.pending) == 0 {
		return nil
	}
	return rw.emit(len(rw.pending))
}

// emit writes pending[:cut] redacted and keeps the rest.
func (rw *redactWriter) emit(cut int) error {
	out := rw.r.String(string(rw.pending[:cut]))
	n := copy(rw.pending, rw.pending[cut:])
	rw.pending = rw.pending[:n]
	_, err := io.WriteString(rw.w, out)
	return err
}

// safeCut returns how much of the pending input, at most limit bytes, can be
// written now without splitting a secret: the cut moves back to the start
// of any match that crosses it and of any tail that is the beginning of a
// secret whose rest is still to come.
func (rw *redactWriter) safeCut(set *secretSet, limit int) int {
	if set == nil {
		return limit
	}
	s := string(rw.pending)
	spans := set.find(s)
	cut := limit
	for moved := true; moved && cut > 0; {
		moved = false
		for _, sp := range spans {
			if sp.from < cut && sp.to > cut {
				cut, moved = sp.from, true
			}
		}
		for _, v := range set.values {
			for p := max(0, len(s)-len(v)+1); p < cut; p++ {
				if strings.HasPrefix(v, s[p:]) {
					cut, moved = p, true
					break
				}
			}
		}
	}
	return cut
}
