package seller

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAllSized reads exactly what the reader holds, whatever size was
// announced, and reserves no more than maxPresize for a size announced
// before the bytes arrived.
func TestReadAllSized(t *testing.T) {
	long := strings.Repeat("x", 3*maxPresize)
	for _, tc := range []struct {
		name      string
		body      string
		announced int64
	}{
		{"exact", `{"type":"COUNTER"}`, 18},
		{"unknown size", `{"type":"COUNTER"}`, -1},
		{"announced too small", long, 10},
		{"announced too large", "abc", 1 << 40},
		{"empty", "", 0},
		{"empty, announced", "", 100},
		{"longer than the presize", long, int64(len(long))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.body), iotest.OneByteReader(strings.NewReader(tc.body))} {
				got, err := readAllSized(r, tc.announced)
				if err != nil || string(got) != tc.body {
					t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(tc.body))
				}
				if cap(got) > max(len(tc.body)*2, maxPresize+1) {
					t.Errorf("buffer of %d bytes for %d", cap(got), len(tc.body))
				}
			}
		})
	}
	boom := errors.New("boom")
	if _, err := readAllSized(io.MultiReader(bytes.NewReader([]byte("ab")), iotest.ErrReader(boom)), 2); !errors.Is(err, boom) {
		t.Errorf("a failing reader gave %v, want its error", err)
	}
}
