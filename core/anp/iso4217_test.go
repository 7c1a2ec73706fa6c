package anp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// iso4217ListOne is an independent copy of ISO 4217 list one (published
// 2024-06-25): alphabetic code → minor unit, -1 for "N.A.". It is kept in a
// different shape from the table in iso4217.go on purpose, so that a typo in
// one is not copied into the other.
var iso4217ListOne = map[string]int{
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
	"BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2, "BOV": 2,
	"BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2,
	"CAD": 2, "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2, "COU": 2,
	"CRC": 2, "CUC": 2, "CUP": 2, "CVE": 2, "CZK": 2,
	"DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2,
	"EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2,
	"FJD": 2, "FKP": 2,
	"GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2,
	"HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2,
	"IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0,
	"JMD": 2, "JOD": 3, "JPY": 0,
	"KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2,
	"LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3,
	"MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2,
	"MWK": 2, "MXN": 2, "MXV": 2, "MYR": 2, "MZN": 2,
	"NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2,
	"OMR": 3,
	"PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0,
	"QAR": 2,
	"RON": 2, "RSD": 2, "RUB": 2, "RWF": 0,
	"SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2,
	"SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2,
	"THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2,
	"UAH": 2, "UGX": 0, "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2,
	"VED": 2, "VES": 2, "VND": 0, "VUV": 0,
	"WST": 2,
	"XAF": 0, "XCD": 2, "XOF": 0, "XPF": 0,
	"YER": 2,
	"ZAR": 2, "ZMW": 2, "ZWG": 2,
	"XAG": -1, "XAU": -1, "XBA": -1, "XBB": -1, "XBC": -1, "XBD": -1, "XDR": -1, "XPD": -1, "XPT": -1,
	"XSU": -1, "XTS": -1, "XUA": -1, "XXX": -1,
}

// TestCurrencyScaleListOne checks every code of list one, and every other
// three-letter upper-case code, against the independent copy.
func TestCurrencyScaleListOne(t *testing.T) {
	n := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				code := string([]rune{a, b, c})
				want, listed := iso4217ListOne[code]
				got, err := anp.CurrencyScale(code)
				switch {
				case !listed:
					if err == nil {
						t.Errorf("CurrencyScale(%q) = %d, want an error: not in list one", code, got)
					} else if !errors.Is(err, anp.ErrCurrencyUnknown) && !errors.Is(err, anp.ErrCurrencyWithdrawn) {
						t.Errorf("CurrencyScale(%q): %v, want ErrCurrencyUnknown or ErrCurrencyWithdrawn", code, err)
					}
				case want < 0:
					n++
					if !errors.Is(err, anp.ErrCurrencyNoMinorUnit) {
						t.Errorf("CurrencyScale(%q) = %d, %v; want ErrCurrencyNoMinorUnit", code, got, err)
					}
				default:
					n++
					if err != nil || got != want {
						t.Errorf("CurrencyScale(%q) = %d, %v; want %d", code, got, err, want)
					}
				}
			}
		}
	}
	if n != len(iso4217ListOne) {
		t.Errorf("checked %d listed codes, the copy has %d", n, len(iso4217ListOne))
	}
}

// TestCurrencyScaleIssueCodes pins the codes where CLDR (the former source)
// and ISO 4217 disagree.
func TestCurrencyScaleIssueCodes(t *testing.T) {
	tests := []struct {
		code    string
		want    int
		wantErr error
	}{
		// CLDR says 0 decimals, ISO 4217 says 2.
		{code: "IDR", want: 2}, {code: "COP", want: 2}, {code: "LAK", want: 2}, {code: "LBP", want: 2},
		{code: "MMK", want: 2}, {code: "RSD", want: 2}, {code: "SOS", want: 2}, {code: "SYP", want: 2},
		{code: "YER", want: 2}, {code: "ALL", want: 2}, {code: "AMD", want: 2}, {code: "IRR", want: 2},
		{code: "KPW", want: 2}, {code: "UZS", want: 2}, {code: "PKR", want: 2}, {code: "MGA", want: 2},
		// CLDR says 0, ISO 4217 says 3.
		{code: "IQD", want: 3},
		// Current codes CLDR refused.
		{code: "MRU", want: 2}, {code: "VES", want: 2}, {code: "SLE", want: 2}, {code: "VED", want: 2},
		{code: "ZWG", want: 2}, {code: "UYW", want: 4},
		// Withdrawn codes CLDR accepted.
		{code: "MRO", wantErr: anp.ErrCurrencyWithdrawn}, {code: "STD", wantErr: anp.ErrCurrencyWithdrawn},
		{code: "VEF", wantErr: anp.ErrCurrencyWithdrawn}, {code: "HRK", wantErr: anp.ErrCurrencyWithdrawn},
		{code: "SLL", wantErr: anp.ErrCurrencyWithdrawn}, {code: "ZWL", wantErr: anp.ErrCurrencyWithdrawn},
		{code: "BYR", wantErr: anp.ErrCurrencyWithdrawn}, {code: "LTL", wantErr: anp.ErrCurrencyWithdrawn},
		// Minor unit N.A.
		{code: "XAU", wantErr: anp.ErrCurrencyNoMinorUnit}, {code: "XAG", wantErr: anp.ErrCurrencyNoMinorUnit},
		{code: "XPT", wantErr: anp.ErrCurrencyNoMinorUnit}, {code: "XPD", wantErr: anp.ErrCurrencyNoMinorUnit},
		{code: "XDR", wantErr: anp.ErrCurrencyNoMinorUnit}, {code: "XXX", wantErr: anp.ErrCurrencyNoMinorUnit},
		{code: "XTS", wantErr: anp.ErrCurrencyNoMinorUnit}, {code: "XBA", wantErr: anp.ErrCurrencyNoMinorUnit},
		{code: "XBD", wantErr: anp.ErrCurrencyNoMinorUnit}, {code: "XSU", wantErr: anp.ErrCurrencyNoMinorUnit},
		{code: "XUA", wantErr: anp.ErrCurrencyNoMinorUnit},
		// Case and white space are never folded.
		{code: "usd", wantErr: anp.ErrCurrencyFormat}, {code: "Usd", wantErr: anp.ErrCurrencyFormat},
		{code: " US", wantErr: anp.ErrCurrencyFormat}, {code: "US ", wantErr: anp.ErrCurrencyFormat},
		{code: "USD ", wantErr: anp.ErrCurrencyFormat}, {code: "U\tD", wantErr: anp.ErrCurrencyFormat},
		{code: "ＵSD", wantErr: anp.ErrCurrencyFormat}, {code: "", wantErr: anp.ErrCurrencyFormat},
		{code: "ZZZ", wantErr: anp.ErrCurrencyUnknown},
	}
	for _, tt := range tests {
		got, err := anp.CurrencyScale(tt.code)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("CurrencyScale(%q) = %d, %v; want %v", tt.code, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CurrencyScale(%q) = %d, %v; want %d", tt.code, got, err, tt.want)
		}
	}
}

// TestParseMoneyRejectionClasses checks that each refusal wraps its sentinel.
func TestParseMoneyRejectionClasses(t *testing.T) {
	tests := []struct {
		text, code string
		want       error
	}{
		{" 85", "USD", anp.ErrAmountFormat},
		{"85 ", "USD", anp.ErrAmountFormat},
		{"", "USD", anp.ErrAmountFormat},
		{"-1", "USD", anp.ErrAmountFormat},
		{"1.5", "JPY", anp.ErrAmountPrecision},
		{"1.234", "IDR", anp.ErrAmountPrecision},
		{"1.2345", "IQD", anp.ErrAmountPrecision},
		{"99999999999999999999", "USD", anp.ErrAmountRange},
		{"85", "usd", anp.ErrCurrencyFormat},
		{"85", " USD", anp.ErrCurrencyFormat},
		{"85", "MRO", anp.ErrCurrencyWithdrawn},
		{"85", "XAU", anp.ErrCurrencyNoMinorUnit},
		{"85", "ABC", anp.ErrCurrencyUnknown},
	}
	for _, tt := range tests {
		m, err := anp.ParseMoney(tt.text, tt.code)
		if !errors.Is(err, tt.want) || m != (anp.Money{}) {
			t.Errorf("ParseMoney(%q, %q) = %+v, %v; want %v", tt.text, tt.code, m, err, tt.want)
		}
	}
	if m, err := anp.ParseMoney("1.234", "IQD"); err != nil || m.Amount != 1234 {
		t.Errorf("ParseMoney(1.234, IQD) = %+v, %v; want 1234", m, err)
	}
	if m, err := anp.ParseMoney("12500.50", "IDR"); err != nil || m.Amount != 1250050 {
		t.Errorf("ParseMoney(12500.50, IDR) = %+v, %v; want 1250050", m, err)
	}
}

func FuzzCurrencyScale(f *testing.F) {
	for _, s := range []string{"USD", "JPY", "IQD", "XAU", "MRO", "usd", " US", "", "ZWG", "\xff\xfeA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		got, err := anp.CurrencyScale(code)
		want, listed := iso4217ListOne[code]
		if err != nil {
			if listed && want >= 0 {
				t.Fatalf("CurrencyScale(%q): %v, want %d", code, err, want)
			}
			for _, class := range moneyClasses {
				if errors.Is(err, class) {
					return
				}
			}
			t.Fatalf("CurrencyScale(%q): %v wraps no rejection class", code, err)
		}
		if !listed || got != want || strings.TrimSpace(code) != code {
			t.Fatalf("CurrencyScale(%q) = %d, want an error or %d", code, got, want)
		}
	})
}
