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
