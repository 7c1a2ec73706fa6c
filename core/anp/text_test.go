package anp_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// textCase is one case of a text function f(in, max), with the output
// worked out by hand.
type textCase struct {
	desc string
	in   string
	max  int
	want string
}

// checkTextCases runs each case as a subtest of f, named name in failures.
func checkTextCases(t *testing.T, name string, f func(string, int) string, cases []textCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			if got := f(tc.in, tc.max); got != tc.want {
				t.Fatalf("%s(%q, %d) = %q, want %q", name, tc.in, tc.max, got, tc.want)
			}
		})
	}
}

// seedTextCases adds every case's input and limit to a fuzz corpus.
func seedTextCases(f *testing.F, cases []textCase) {
	for _, tc := range cases {
		f.Add(tc.in, tc.max)
	}
}

// cleanTextCases are the CleanText cases of the tests and of the vector
// file clean_text.json.
var cleanTextCases = []textCase{
	{"clean text is unchanged", "Deal at 85.00 USD.", 100, "Deal at 85.00 USD."},
	{"newline and tab are kept", "line one\n\tline two", 100, "line one\n\tline two"},
	{"C0 controls, carriage return and DEL are dropped", "a\x00b\x1bc\rd\x7fe", 100, "abcde"},
	{"a byte that is never UTF-8 is dropped", "caf\xffe", 100, "cafe"},
	{"a truncated sequence is dropped whole", "price \xe2\x82 85", 100, "price  85"},
	{"an overlong encoding is dropped", "a\xc0\xafb", 100, "ab"},
	{"an encoded surrogate is dropped", "a\xed\xa0\x80b", 100, "ab"},
	{"valid non-ASCII text is kept", "Küche ☕ 🍳", 100, "Küche ☕ 🍳"},
	{"a literal U+FFFD is kept", "a\uFFFDb", 100, "a\uFFFDb"},
	{"C1 controls are not dropped", "a\u0085b", 100, "a\u0085b"},
	{"cut at the byte limit", "abcdef", 4, "abcd"},
	{"cut before a character that does not fit", "héllo", 2, "h"},
	{"cut keeps a character that fits exactly", "héllo", 3, "hé"},
	{"cut before a four-byte character", "ab🍳", 5, "ab"},
	{"dropped bytes do not count against the limit", "\x00\x00\xffab", 2, "ab"},
	{"zero limit", "abc", 0, ""},
	{"negative limit", "abc", -1, ""},
	{"empty input", "", 10, ""},
	{"only dropped bytes", "\x01\x02\xfe", 10, ""},
}

func TestCleanText(t *testing.T) {
	checkTextCases(t, "CleanText", anp.CleanText, cleanTextCases)
}

// TestCleanTextPassesTheBodyRules feeds cleaned text of every length into
// the bodies that carry text.
func TestCleanTextPassesTheBodyRules(t *testing.T) {
	dirty := strings.Repeat("é\x00\xff\n🍳\x7f", 400)
	for _, n := range []int{1, 2, 3, 63, 64, 999, anp.MaxMessageLen} {
		note := anp.NoteBody{Reason: anp.CleanText(dirty, 64), Message: anp.CleanText(dirty, n)}
		if err := note.Validate(); err != nil {
			t.Fatalf("limit %d: %v", n, err)
		}
		if len(note.Message) > n || len(note.Message) < n-3 {
			t.Fatalf("limit %d: cleaned to %d bytes", n, len(note.Message))
		}
	}
}

func FuzzCleanText(f *testing.F) {
	seedTextCases(f, cleanTextCases)
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 2 * (len(s) + 2) // keep the limit near the input's length
		got := anp.CleanText(s, max)
		if max <= 0 {
			if got != "" {
				t.Fatalf("limit %d gave %q", max, got)
			}
			return
		}
		if len(got) > max || !utf8.ValidString(got) {
			t.Fatalf("CleanText(%q, %d) = %q: too long or not UTF-8", s, max, got)
		}
		for _, r := range got {
			if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
				t.Fatalf("CleanText(%q, %d) = %q keeps control character %U", s, max, got, r)
			}
		}
		full := anp.CleanText(s, len(s))
		if !strings.HasPrefix(full, got) {
			t.Fatalf("CleanText(%q, %d) = %q is not a prefix of the uncut %q", s, max, got, full)
		}
		if len(got) < len(full) {
			// Cut only where the next kept character would not fit.
			_, size := utf8.DecodeRuneInString(full[len(got):])
			if len(got)+size <= max {
				t.Fatalf("CleanText(%q, %d) = %q stops early", s, max, got)
			}
		}
		if again := anp.CleanText(got, max); again != got {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }) {
			if full != s {
				t.Fatalf("changed clean text %q to %q", s, full)
			}
		}
	})
}

// truncateCases are Truncate's contract.
var truncateCases = []textCase{
	{"empty input", "", 4, ""},
	{"short input is whole", "abc", 4, "abc"},
	{"input of exactly n bytes is whole", "abcd", 4, "abcd"},
	{"a cut is marked", "abcde", 4, "abcd…"},
	{"zero keeps nothing", "abc", 0, "…"},
	{"negative keeps nothing", "abc", -1, "…"},
	{"negative on empty input", "", -1, ""},
	{"a two-byte character is not split", "héllo", 2, "h…"},
	{"a two-byte character that fits is kept", "héllo", 3, "hé…"},
	{"a four-byte character is not split", "ab🍳cd", 5, "ab…"},
	{"a four-byte character that fits is kept", "ab🍳cd", 6, "ab🍳…"},
	{"an invalid byte counts as one character", "a\xff\xffb", 2, "a\xff…"},
	{"a stray continuation byte counts as one character", "a\x80\x80b", 2, "a\x80…"},
	{"a truncated sequence at the cut", "ab\xe2\x82", 3, "ab\xe2…"},
	{"control characters are kept", "a\x00b\x1bc", 3, "a\x00b…"},
}

func TestTruncate(t *testing.T) {
	checkTextCases(t, "Truncate", anp.Truncate, truncateCases)
}

func FuzzTruncate(f *testing.F) {
	seedTextCases(f, truncateCases)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 2 * (len(s) + 2) // keep the limit near the input's length
		got := anp.Truncate(s, n)
		if len(s) <= max(n, 0) {
			if got != s {
				t.Fatalf("Truncate(%q, %d) = %q, want the input whole", s, n, got)
			}
			return
		}
		kept, cut := strings.CutSuffix(got, anp.TruncateMark)
		if !cut || !strings.HasPrefix(s, kept) || len(kept) > max(n, 0) {
			t.Fatalf("Truncate(%q, %d) = %q: not a prefix of at most %d bytes and the mark", s, n, got, n)
		}
		// kept ends where a character of s ends, and the next one would not fit.
		i := 0
		for i < len(kept) {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
		if i != len(kept) {
			t.Fatalf("Truncate(%q, %d) = %q splits a character", s, n, got)
		}
		if _, size := utf8.DecodeRuneInString(s[i:]); i+size <= n {
			t.Fatalf("Truncate(%q, %d) = %q stops early", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Truncate(%q, %d) = %q is not UTF-8", s, n, got)
		}
	})
}
