package httpbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// ReadAllSized reads exactly what the reader holds, whatever size was
// announced, and reserves no more than MaxPresize for a size announced
// before the bytes arrived.
func TestReadAllSized(t *testing.T) {
	long := strings.Repeat("x", 3*MaxPresize)
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
				got, err := ReadAllSized(r, tc.announced)
				if err != nil || string(got) != tc.body {
					t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(tc.body))
				}
				if cap(got) > max(len(tc.body)*2, MaxPresize+1) {
					t.Errorf("buffer of %d bytes for %d", cap(got), len(tc.body))
				}
			}
		})
	}
	boom := errors.New("boom")
	if _, err := ReadAllSized(io.MultiReader(bytes.NewReader([]byte("ab")), iotest.ErrReader(boom)), 2); !errors.Is(err, boom) {
		t.Errorf("a failing reader gave %v, want its error", err)
	}
}

// MarshalJSON gives the bytes a json.Encoder writes (HTML escaped, one
// newline), so answers written with it keep their wire bytes.
func TestMarshalJSONMatchesEncoder(t *testing.T) {
	for _, v := range []any{
		map[string]string{"status": "ok", "domain": "a<b>&c.example"},
		struct {
			N int    `json:"n"`
			S string `json:"s,omitempty"`
		}{N: 7},
		[]string{"\u2028", "é", ""},
		nil,
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(v); err != nil {
			t.Fatal(err)
		}
		got, err := MarshalJSON(v)
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Errorf("MarshalJSON(%v) = %q (%v), want %q", v, got, err, want.Bytes())
		}
	}
	if _, err := MarshalJSON(make(chan int)); err == nil {
		t.Error("MarshalJSON of a channel succeeded")
	}
}

// Write announces the body's length and sends it once, unchunked, even
// when it is larger than the server's response buffer.
func TestWriteSetsContentLength(t *testing.T) {
	for _, size := range []int{0, 1, serverBufferBytes - 1, serverBufferBytes, serverBufferBytes + 1, 3 * MaxPresize} {
		t.Run(strconv.Itoa(size), func(t *testing.T) { checkWrite(t, bytes.Repeat([]byte("x"), size)) })
	}
}

func checkWrite(t *testing.T, big []byte) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		Write(w, http.StatusAccepted, big)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := ReadAllSized(resp.Body, resp.ContentLength)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted || resp.ContentLength != int64(len(big)) || len(resp.TransferEncoding) != 0 {
		t.Errorf("status %d, Content-Length %d, transfer encoding %v; want 202, %d, none", resp.StatusCode, resp.ContentLength, resp.TransferEncoding, len(big))
	}
	if !bytes.Equal(got, big) || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("body of %d bytes, Content-Type %q", len(got), resp.Header.Get("Content-Type"))
	}
}

// TestSharedHeaderValuesStayUnchanged: the header values SetNoStore and
// SetJSON share between answers are sent as Set would send them, and an
// answer that adds to or replaces one of those headers afterwards leaves
// the shared values (and so every other answer) as they were.
func TestSharedHeaderValuesStayUnchanged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetNoStore(w.Header())
		if r.URL.Path == "/changed" {
			w.Header().Add("Cache-Control", "private")
			w.Header().Set("X-Content-Type-Options", "other")
		}
		Write(w, http.StatusOK, []byte("{}\n"))
	}))
	defer srv.Close()
	for _, path := range []string{"/plain", "/changed", "/plain"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string][]string{"Cache-Control": {"no-store"}, "X-Content-Type-Options": {"nosniff"}, "Content-Type": {"application/json"}}
		if path == "/changed" {
			want["Cache-Control"], want["X-Content-Type-Options"] = []string{"no-store", "private"}, []string{"other"}
		}
		for k, v := range want {
			if got := resp.Header.Values(k); !slices.Equal(got, v) {
				t.Errorf("%s: %s is %q, want %q", path, k, got, v)
			}
		}
	}
	if !slices.Equal(valueNoStore, []string{"no-store"}) || !slices.Equal(valueNoSniff, []string{"nosniff"}) || !slices.Equal(valueJSON, []string{"application/json"}) {
		t.Fatalf("shared values changed: %q %q %q", valueNoStore, valueNoSniff, valueJSON)
	}
}
