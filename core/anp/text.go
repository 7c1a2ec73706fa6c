package anp

import (
	"strings"
	"unicode/utf8"
)

// CleanText makes text safe for a message body: valid UTF-8 (invalid bytes
// dropped), no control characters but newline and tab, at most n bytes, cut
// on a rune boundary.
func CleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
