package buyer

import (
	"strings"
	"unicode"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Budget privacy of text. The budget never leaves the buyer: not as a field,
// and not inside words the buyer (a person, a host model or the autonomous
// decider) writes to the seller. Every buyer text the engine sends — a
// counter's message, a cancel reason — passes sellerText, so no entry point
// can get around it.

// sellerText cleans buyer-written text for a message body and replaces it
// with fallback when it names the budget in any spelling (see namesAmount).
// It reports whether it replaced the text.
func sellerText(text string, budget anp.Money, fallback string) (string, bool) {
	text = anp.CleanText(text, anp.MaxMessageLen)
	if namesAmount(text, budget) {
		return fallback, true
	}
	return text, false
}

// namesAmount reports whether text contains the amount m in any common
// spelling: digits with or without a currency sign or code, with thousands
// separators (, . space ' _), a decimal point or comma, trailing zeros
// (93.170), major and minor units apart (93 dollars and 17 cents), minor
// units alone with a word for them (9317 cents), and English number words
// (ninety-three dollars and seventeen cents). It may also match text that
// names the amount by chance; for budget privacy that errs on the safe side.
func namesAmount(text string, m anp.Money) bool {
	scale, err := anp.CurrencyScale(m.Currency)
	if err != nil || m.Amount <= 0 {
		return false
	}
	unit := pow10(scale)
	var held [16]numberToken // the tokens of a short message stay off the heap
	toks := appendNumberTokens(held[:0], strings.ToLower(text), scale)
	for i, t := range toks {
		if t.minor == m.Amount || t.minorUnits && t.whole == m.Amount {
			return true
		}
		// Major and minor units written apart: "93 dollars and 17 cents".
		if i+1 < len(toks) && scale > 0 && t.isWhole && toks[i+1].isWhole && toks[i+1].whole < unit &&
			toks[i+1].start-t.end <= 24 && t.whole*unit+toks[i+1].whole == m.Amount {
			return true
		}
	}
	return false
}

// numberToken is one number found in text.
type numberToken struct {
	start, end int   // byte offsets
	minor      int64 // the value read as major units, in minor units (-1: not representable)
	whole      int64 // the integer value when isWhole
	isWhole    bool  // written without decimals
	minorUnits bool  // followed by a word for minor units (cents, pence, ¢)
}

// appendNumberTokens appends to out the numbers in lower-case text, written
// in digits or in English words, in order.
func appendNumberTokens(out []numberToken, text string, scale int) []numberToken {
	first := len(out)
	for i := 0; i < len(text); {
		r := rune(text[i])
		switch {
		case r >= '0' && r <= '9':
			j := digitRunEnd(text, i)
			out = appendDigitTokens(out, text, i, j, scale)
			i = j
		case r >= 'a' && r <= 'z':
			j := i
			for j < len(text) && (isLetter(text[j]) || text[j] == '-') {
				j++
			}
			if t, end, ok := wordNumber(text, i, scale); ok {
				out = append(out, t)
				i = end
			} else {
				i = j
			}
		default:
			i++
		}
	}
	for k := first; k < len(out); k++ {
		out[k].minorUnits = followedByMinorUnit(text[out[k].end:])
	}
	return out
}

// digitRunEnd returns the end of a run of digits and the separators that may
// sit between digit groups.
func digitRunEnd(text string, i int) int {
	j := i
	for j < len(text) {
		c := text[j]
		if c >= '0' && c <= '9' {
			j++
			continue
		}
		if strings.IndexByte(".,'_ ", c) >= 0 && j+1 < len(text) && text[j+1] >= '0' && text[j+1] <= '9' {
			j++
			continue
		}
		// A non-breaking or narrow no-break space between digit groups.
		if sep, n := decodeSpace(text[j:]); sep && j+n < len(text) && text[j+n] >= '0' && text[j+n] <= '9' {
			j += n
			continue
		}
		break
	}
	return j
}

func decodeSpace(s string) (bool, int) {
	for _, sp := range []string{"\u00a0", "\u202f", "\u2009"} {
		if strings.HasPrefix(s, sp) {
			return true, len(sp)
		}
	}
	return false, 0
}

// appendDigitTokens appends to out text[i:j] read every way a person may
// have meant it: with a decimal point, with a decimal comma, with every
// separator a thousands separator, and each group of digits on its own.
func appendDigitTokens(out []numberToken, text string, i, j, scale int) []numberToken {
	run := text[i:j]
	var held [8]string
	groups := appendDigitGroups(held[:0], run)
	if thousandsGrouped(groups) {
		out = appendDigitToken(out, i, j, digitsOnly(run), "", scale)
	}
	for _, dec := range []string{".", ","} {
		if k := strings.LastIndex(run, dec); k >= 0 {
			out = appendDigitToken(out, i, j, digitsOnly(run[:k]), digitsOnly(run[k+1:]), scale)
		}
	}
	// Each group alone: "93 17" may be two numbers.
	for _, g := range groups {
		if g != run {
			out = appendDigitToken(out, i, j, g, "", scale)
		}
	}
	return out
}

// appendDigitToken appends the token of text[start:end] read as
// intPart.frac.
func appendDigitToken(out []numberToken, start, end int, intPart, frac string, scale int) []numberToken {
	t := numberToken{start: start, end: end, minor: toMinor(intPart, frac, scale)}
	if frac == "" {
		t.whole, t.isWhole = parseDigits(intPart), len(intPart) <= 15
	}
	return append(out, t)
}

// appendDigitGroups appends the runs of digits in s (strings.FieldsFunc
// splitting at every non-digit).
func appendDigitGroups(groups []string, s string) []string {
	start := -1
	for k := 0; k < len(s); k++ {
		digit := s[k] >= '0' && s[k] <= '9'
		switch {
		case digit && start < 0:
			start = k
		case !digit && start >= 0:
			groups = append(groups, s[start:k])
			start = -1
		}
	}
	if start >= 0 {
		groups = append(groups, s[start:])
	}
	return groups
}

// digitsOnly is s without its non-digits.
func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// thousandsGrouped reports whether digit groups read as one integer with
// thousands separators: every group after the first has three digits.
func thousandsGrouped(groups []string) bool {
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return false
		}
	}
	return true
}

// toMinor converts major units written as intPart.frac into minor units, or
// -1 when the digits are too many or the fraction is finer than the currency.
func toMinor(intPart, frac string, scale int) int64 {
	frac = strings.TrimRight(frac, "0")
	if len(frac) > scale || len(intPart) > 15 {
		return -1
	}
	v := moreDigits(moreDigits(0, intPart), frac) // at most 15 + scale digits
	for k := len(frac); k < scale; k++ {
		v = moreDigits(v, "0")
	}
	return v
}

func parseDigits(s string) int64 { return moreDigits(0, s) }

// moreDigits is v with the decimal digits s written after it, or -1 past
// 10^17 (and for v -1).
func moreDigits(v int64, s string) int64 {
	if v < 0 {
		return v
	}
	for _, c := range s {
		v = v*10 + int64(c-'0')
		if v > 1e17 {
			return -1
		}
	}
	return v
}

func pow10(n int) int64 {
	v := int64(1)
	for range n {
		v *= 10
	}
	return v
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' }

// followedByMinorUnit reports whether rest starts with a word for minor units.
func followedByMinorUnit(rest string) bool {
	rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	for _, w := range []string{"cents", "cent", "ct", "¢", "pence", "penny", "pennies", "p "} {
		if strings.HasPrefix(rest, w) {
			return true
		}
	}
	return false
}

var smallNumbers = map[string]int64{
	"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
	"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
	"seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
	"sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}

var scaleWords = map[string]int64{"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}

// wordNumber reads an English number in words starting at text[i] ("one
// thousand two hundred and five", "ninety-three"), returning the token and
// where it ends.
func wordNumber(text string, i, scale int) (numberToken, int, bool) {
	var n wordValue
	end := i
	for j := i; j < len(text); {
		k := j
		for k < len(text) && isLetter(text[k]) {
			k++
		}
		w := text[j:k]
		if k == j || !n.add(w) {
			break
		}
		if w != "and" {
			end = k
		}
		for j = k; j < len(text) && (text[j] == ' ' || text[j] == '-'); j++ {
		}
	}
	if !n.seen {
		return numberToken{}, 0, false
	}
	v := n.total + n.group
	return numberToken{start: i, end: end, minor: v * pow10(scale), whole: v, isWhole: true}, end, true
}

// wordValue accumulates an English number word by word.
type wordValue struct {
	total, group int64
	seen         bool
}

// add takes the next word and reports whether it belongs to the number. An
// "and" inside a number ("two hundred and five") belongs to it.
func (n *wordValue) add(w string) bool {
	if v, ok := smallNumbers[w]; ok {
		n.group += v
		n.seen = true
		return true
	}
	if !n.seen {
		return false
	}
	switch sc := scaleWords[w]; {
	case sc == 100:
		n.group *= 100
	case sc > 100:
		n.total += n.group * sc
		n.group = 0
	case w != "and":
		return false
	}
	return true
}
