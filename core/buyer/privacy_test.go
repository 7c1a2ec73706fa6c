package buyer

import (
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestNamesAmount(t *testing.T) {
	b := anp.Money{Amount: 9317, Currency: "USD"}
	cases := []struct {
		text string
		want bool
	}{
		{"My hard limit is 93.17.", true},
		{"$93.17", true},
		{"USD93.17", true},
		{"93.17USD", true},
		{"93,17 €", true},
		{"93.170", true},
		{"0093.17", true},
		{"93 dollars and 17 cents", true},
		{"93 17", true},
		{"9317 cents", true},
		{"9317¢", true},
		{"ninety-three dollars and seventeen cents", true},
		{"Ninety three point seventeen", true}, // read as 93 and 17 written apart
		{"We can offer 45.00 USD.", false},
		{"93.18", false},
		{"193.17", false},
		{"9.317", false},
		{"9317 units", false},
		{"931.7", false},
		{"Blue 42 is a fine colour.", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := namesAmount(tc.text, b); got != tc.want {
			t.Errorf("namesAmount(%q, %s) = %t, want %t", tc.text, b, got, tc.want)
		}
	}
}

func TestNamesAmountWholeAndLargeAmounts(t *testing.T) {
	cases := []struct {
		m    anp.Money
		text string
		want bool
	}{
		{anp.Money{Amount: 10000, Currency: "USD"}, "one hundred dollars", true},
		{anp.Money{Amount: 10000, Currency: "USD"}, "100", true},
		{anp.Money{Amount: 10000, Currency: "USD"}, "100.-", true},
		{anp.Money{Amount: 10000, Currency: "USD"}, "we want 1000 plates", false},
		{anp.Money{Amount: 108550, Currency: "USD"}, "1,085.50", true},
		{anp.Money{Amount: 108550, Currency: "USD"}, "1.085,50", true},
		{anp.Money{Amount: 108550, Currency: "USD"}, "1 085.5", true},
		{anp.Money{Amount: 108550, Currency: "USD"}, "1\u00a0085,50", true},
		{anp.Money{Amount: 108550, Currency: "USD"}, "one thousand eighty-five dollars and fifty cents", true},
		{anp.Money{Amount: 5000, Currency: "JPY"}, "5,000 yen", true},
		{anp.Money{Amount: 5000, Currency: "JPY"}, "five thousand", true},
		{anp.Money{Amount: 5000, Currency: "JPY"}, "50.00", false},
	}
	for _, tc := range cases {
		if got := namesAmount(tc.text, tc.m); got != tc.want {
			t.Errorf("namesAmount(%q, %s) = %t, want %t", tc.text, tc.m, got, tc.want)
		}
	}
}

func TestSellerTextReplacesOnlyTextNamingTheBudget(t *testing.T) {
	b := anp.Money{Amount: 9317, Currency: "USD"}
	if got, replaced := sellerText("my limit is 93.17", b, "We can offer 50.00 USD."); !replaced || got != "We can offer 50.00 USD." {
		t.Errorf("budget text: got %q replaced=%t", got, replaced)
	}
	if got, replaced := sellerText("Fair price\x00 for both", b, "x"); replaced || got != "Fair price for both" {
		t.Errorf("clean text: got %q replaced=%t", got, replaced)
	}
}

// FuzzNamesAmount: any text with the amount written in its plain form, in
// either decimal convention, is caught; no text makes it panic.
func FuzzNamesAmount(f *testing.F) {
	f.Add("my limit is ", " dollars", int64(9317))
	f.Add("", "", int64(1))
	f.Add("ninety", "cents", int64(100))
	f.Add("1,0", ".5", int64(999999999))
	f.Fuzz(func(t *testing.T, before, after string, amount int64) {
		if amount <= 0 || amount > anp.MaxAmount {
			return
		}
		m := anp.Money{Amount: amount, Currency: "USD"}
		_ = namesAmount(before+after, m)
		plain := anp.FormatAmount(amount, 2)
		for _, form := range []string{plain, strings.Replace(plain, ".", ",", 1)} {
			text := strings.Map(digitFree, before) + " " + form + " " + strings.Map(digitFree, after)
			if !namesAmount(text, m) {
				t.Fatalf("namesAmount(%q, %s) = false", text, m)
			}
		}
	})
}

// digitFree drops digits and separators next to which the written amount
// would read as another number.
func digitFree(r rune) rune {
	if r >= '0' && r <= '9' || strings.ContainsRune(".,'_ \u00a0\u202f\u2009", r) {
		return -1
	}
	return r
}

// FuzzDigitReading: appendDigitGroups splits as strings.FieldsFunc at every
// non-digit, and toMinor reads intPart.frac as the digits of intPart, frac
// and the zeros up to the scale written one after another.
func FuzzDigitReading(f *testing.F) {
	f.Add("1,234.50", "93", "170", 2)
	f.Add("", "", "", 0)
	f.Add("12 345 678", "999999999999999", "9", 3)
	f.Fuzz(func(t *testing.T, run, intPart, frac string, scale int) {
		want := strings.FieldsFunc(run, func(r rune) bool { return r < '0' || r > '9' })
		if got := appendDigitGroups(nil, run); strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Fatalf("appendDigitGroups(%q) = %q, want %q", run, got, want)
		}
		intPart, frac = digitsOnly(intPart), digitsOnly(frac)
		if scale < 0 || scale > 4 {
			return
		}
		want1 := int64(-1)
		if trimmed := strings.TrimRight(frac, "0"); len(trimmed) <= scale && len(intPart) <= 15 {
			want1 = parseDigits(intPart + trimmed + strings.Repeat("0", scale-len(trimmed)))
		}
		if got := toMinor(intPart, frac, scale); got != want1 {
			t.Fatalf("toMinor(%q, %q, %d) = %d, want %d", intPart, frac, scale, got, want1)
		}
	})
}
