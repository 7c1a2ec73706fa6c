package anp_test

import (
	"errors"
	"sort"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// moneyCase is one decimal text and currency with the expected result: "valid"
// and the amount in minor units, or the name of the rejection class.
type moneyCase struct {
	Text     string `json:"text"`
	Currency string `json:"currency"`
	Expect   string `json:"expect"`
	Amount   *int64 `json:"amount,omitempty"`
}

type currencyEntry struct {
	Code      string `json:"code"`
	Numeric   int    `json:"numeric"`
	MinorUnit *int   `json:"minor_unit"` // null: "N.A.", not usable for money
}

type moneyFile struct {
	Description string          `json:"description"`
	Source      string          `json:"source"`
	Currencies  []currencyEntry `json:"currencies"`
	Cases       []moneyCase     `json:"cases"`
}

// moneyClasses names each rejection class in the vectors.
var moneyClasses = map[string]error{
	"amount_format":          anp.ErrAmountFormat,
	"amount_precision":       anp.ErrAmountPrecision,
	"amount_range":           anp.ErrAmountRange,
	"currency_format":        anp.ErrCurrencyFormat,
	"currency_unknown":       anp.ErrCurrencyUnknown,
	"currency_withdrawn":     anp.ErrCurrencyWithdrawn,
	"currency_no_minor_unit": anp.ErrCurrencyNoMinorUnit,
}

var moneyInputs = [][2]string{
	{"85", "USD"}, {"85.5", "USD"}, {"85.50", "USD"}, {"0", "USD"}, {"1500", "JPY"}, {"1.234", "KWD"},
	{"1.234", "IQD"}, {"12500.50", "IDR"}, {"4200.25", "COP"}, {"1.0001", "CLF"}, {"1.0001", "UYW"},
	{"10", "MRU"}, {"10", "VES"}, {"10", "VED"}, {"10", "SLE"}, {"10", "ZWG"}, {"10000000000000.00", "USD"},
	{" 85", "USD"}, {"85 ", "USD"}, {"8 5", "USD"}, {"85\t", "USD"}, {"\u00a085", "USD"}, {"", "USD"},
	{"-5", "USD"}, {"+5", "USD"}, {"1e3", "USD"}, {"1,200", "USD"}, {".5", "USD"}, {"5.", "USD"},
	{"1.5", "JPY"}, {"85.505", "USD"}, {"1.2345", "IQD"}, {"10000000000000.01", "USD"}, {"99999999999999999999", "USD"},
	{"85", "usd"}, {"85", "Usd"}, {"85", " USD"}, {"85", "USD "}, {"85", "US"},
	{"85", "MRO"}, {"85", "STD"}, {"85", "VEF"}, {"85", "HRK"}, {"85", "SLL"}, {"85", "ZWL"},
	{"1", "XAU"}, {"1", "XDR"}, {"1", "XXX"}, {"1", "XTS"}, {"85", "ZZZ"},
}

func moneyVectors(tb testing.TB) moneyFile {
	tb.Helper()
	f := moneyFile{
		Description: "Money (protocol §6): ISO 4217 list one with minor units, and decimal texts converted to minor units or refused. expect is \"valid\" (then amount) or the rejection class.",
		Source:      "ISO 4217 list one, published 2024-06-25 (amendment 177)",
	}
	table := anp.ISO4217Table()
	codes := make([]string, 0, len(table))
	for code := range table {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		e := currencyEntry{Code: code, Numeric: table[code][0]}
		if mu := table[code][1]; mu >= 0 {
			e.MinorUnit = &mu
		}
		f.Currencies = append(f.Currencies, e)
	}
	for _, in := range moneyInputs {
		c := moneyCase{Text: in[0], Currency: in[1], Expect: "valid"}
		m, err := anp.ParseMoney(in[0], in[1])
		if err == nil {
			c.Amount = &m.Amount
		} else {
			c.Expect = ""
			for name, class := range moneyClasses {
				if errors.Is(err, class) {
					c.Expect = name
				}
			}
			if c.Expect == "" {
				tb.Fatalf("ParseMoney(%q, %q): %v has no rejection class", in[0], in[1], err)
			}
		}
		f.Cases = append(f.Cases, c)
	}
	return f
}

func addMoneyVectors(tb testing.TB, files map[string][]byte) {
	files["money.json"] = encodeVector(tb, moneyVectors(tb))
}

// TestMoneyVectors reads money.json as another implementation would and
// checks it against ParseMoney, CurrencyScale and the independent list-one copy.
func TestMoneyVectors(t *testing.T) {
	var f moneyFile
	readDataVector(t, "money.json", &f)
	if len(f.Currencies) != len(iso4217ListOne) {
		t.Errorf("money.json lists %d currencies, list one has %d", len(f.Currencies), len(iso4217ListOne))
	}
	numerics := map[int]string{}
	for _, e := range f.Currencies {
		if other, dup := numerics[e.Numeric]; dup || e.Numeric < 1 || e.Numeric > 999 {
			t.Errorf("money.json: %s numeric code %d (also %s)", e.Code, e.Numeric, other)
		}
		numerics[e.Numeric] = e.Code
		want, ok := iso4217ListOne[e.Code]
		got := -1
		if e.MinorUnit != nil {
			got = *e.MinorUnit
		}
		if !ok || got != want {
			t.Errorf("money.json: %s minor unit %d, list one %d (listed %v)", e.Code, got, want, ok)
		}
	}
	seen := map[string]bool{}
	for _, c := range f.Cases {
		m, err := anp.ParseMoney(c.Text, c.Currency)
		if c.Expect == "valid" {
			if err != nil || c.Amount == nil || m.Amount != *c.Amount {
				t.Errorf("ParseMoney(%q, %q) = %+v, %v; file: ok %v", c.Text, c.Currency, m, err, c.Amount)
			}
			continue
		}
		seen[c.Expect] = true
		class, known := moneyClasses[c.Expect]
		if !known || !errors.Is(err, class) {
			t.Errorf("ParseMoney(%q, %q) = %+v, %v; file expects %s", c.Text, c.Currency, m, err, c.Expect)
		}
	}
	for name := range moneyClasses {
		if !seen[name] {
			t.Errorf("money.json has no case for %s", name)
		}
	}
}
