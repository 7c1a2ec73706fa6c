package anp

import (
	"strings"
	"unicode/utf8"
)

// isTextControl reports whether r is a control character that body text
// must not contain: U+0000–U+001F other than newline and tab, and U+007F.
func isTextControl(r rune) bool {
	return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f
}

// CleanText makes arbitrary text safe for a body text field (a message or
// a reason) of at most maxBytes bytes. Bytes that are not valid UTF-8 are
// dropped, and so are the control characters U+0000–U+001F (except newline
// and tab) and U+007F; every other character is kept, a literal U+FFFD
// included. The result is then cut to at most maxBytes bytes at a character
// boundary, so it is always a prefix of CleanText(s, len(s)) and always
// passes the body text rules for a field of that size. maxBytes <= 0 gives "".
func CleanText(s string, maxBytes int) string {
	if maxBytes <= 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(min(len(s), maxBytes))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !(r == utf8.RuneError && size == 1) && !isTextControl(r) {
			if b.Len()+size > maxBytes {
				break
			}
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// TruncateMark is what Truncate appends where it cut.
const TruncateMark = "…"

// Truncate shortens s for quoting in a message or a log line. An s of at
// most n bytes is returned whole. A longer s is cut to its longest prefix of
// at most n bytes that ends on a character boundary — a multi-byte UTF-8
// character is never split; a byte that is not part of valid UTF-8 counts
// as one character — and TruncateMark ("…") is appended to show the cut, so
// the result has at most n+3 bytes. Unlike CleanText it drops nothing: the
// kept prefix is s's own bytes. n <= 0 keeps no byte of a non-empty s.
func Truncate(s string, n int) string {
	n = max(n, 0)
	if len(s) <= n {
		return s
	}
	cut := 0
	for cut < n {
		_, size := utf8.DecodeRuneInString(s[cut:])
		if cut+size > n {
			break
		}
		cut += size
	}
	return s[:cut] + TruncateMark
}
