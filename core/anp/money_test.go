package anp_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestCurrencyScale(t *testing.T) {
	tests := []struct {
		code    string
		want    int
		wantErr string
	}{
		{code: "USD", want: 2},
		{code: "EUR", want: 2},
		{code: "JPY", want: 0},
		{code: "KRW", want: 0},
		{code: "KWD", want: 3},
		{code: "BHD", want: 3},
		{code: "usd", wantErr: "not a three-letter upper-case ISO 4217 code"},
		{code: "US", wantErr: "not a three-letter upper-case ISO 4217 code"},
		{code: "USDX", wantErr: "not a three-letter upper-case ISO 4217 code"},
		{code: "", wantErr: "not a three-letter upper-case ISO 4217 code"},
		{code: "ZZZ", wantErr: "not a known ISO 4217 code"},
		{code: "U$D", wantErr: "ISO 4217"},
	}
	for _, tt := range tests {
		got, err := anp.CurrencyScale(tt.code)
		if tt.wantErr != "" {
			wantMessage(t, err, tt.wantErr)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CurrencyScale(%q) = %d, %v; want %d", tt.code, got, err, tt.want)
		}
	}
}

func TestParseMoney(t *testing.T) {
	tests := []struct {
		text, code string
		want       int64
		wantErr    string
	}{
		{text: "85", code: "USD", want: 8500},
		{text: "85.5", code: "USD", want: 8550},
		{text: "85.50", code: "USD", want: 8550},
		{text: "0085.05", code: "USD", want: 8505},
		{text: "0", code: "USD", want: 0},
		{text: "0.00", code: "USD", want: 0},
		{text: "0.01", code: "USD", want: 1},
		{text: "1500", code: "JPY", want: 1500},
		{text: "1.234", code: "KWD", want: 1234},
		{text: "1.2", code: "KWD", want: 1200},
		{text: "10000000000000", code: "USD", want: anp.MaxAmount},
		{text: "10000000000000.00", code: "USD", want: anp.MaxAmount},
		{text: "1000000000000000", code: "JPY", want: anp.MaxAmount},

		{text: "1.5", code: "JPY", wantErr: `amount "1.5" has 1 decimals, JPY allows 0`},
		{text: "85.505", code: "USD", wantErr: "has 3 decimals, USD allows 2"},
		{text: "85.500", code: "USD", wantErr: "has 3 decimals, USD allows 2"},
		{text: "1.2345", code: "KWD", wantErr: "has 4 decimals, KWD allows 3"},
		{text: "10000000000000.01", code: "USD", wantErr: "is too large"},
		{text: "99999999999999999999", code: "USD", wantErr: "is too large"},
		{text: "9223372036854775807", code: "JPY", wantErr: "is too large"},
		{text: "-5", code: "USD", wantErr: "not a plain decimal number"},
		{text: "+5", code: "USD", wantErr: "not a plain decimal number"},
		{text: "", code: "USD", wantErr: "amount is empty"},
		{text: "   ", code: "USD", wantErr: "not a plain decimal number"},
		{text: " 85", code: "USD", wantErr: "not a plain decimal number"},
		{text: "85 ", code: "USD", wantErr: "not a plain decimal number"},
		{text: " 85.00 ", code: "USD", wantErr: "not a plain decimal number"},
		{text: "8 5", code: "USD", wantErr: "not a plain decimal number"},
		{text: "85.\t5", code: "USD", wantErr: "not a plain decimal number"},
		{text: "85\n", code: "USD", wantErr: "not a plain decimal number"},
		{text: "\u00a085", code: "USD", wantErr: "not a plain decimal number"},
		{text: ".5", code: "USD", wantErr: "not a plain decimal number"},
		{text: "5.", code: "USD", wantErr: "not a plain decimal number"},
		{text: "5.5.5", code: "USD", wantErr: "not a plain decimal number"},
		{text: "1,200", code: "USD", wantErr: "not a plain decimal number"},
		{text: "1e3", code: "USD", wantErr: "not a plain decimal number"},
		{text: "NaN", code: "USD", wantErr: "not a plain decimal number"},
		{text: "Inf", code: "USD", wantErr: "not a plain decimal number"},
		{text: "$85", code: "USD", wantErr: "not a plain decimal number"},
		{text: "٨٥", code: "USD", wantErr: "not a plain decimal number"},
		{text: "85", code: "usd", wantErr: "ISO 4217"},
		{text: "85", code: "XYZ", wantErr: "not a known ISO 4217 code"},
	}
	for _, tt := range tests {
		got, err := anp.ParseMoney(tt.text, tt.code)
		if tt.wantErr != "" {
			wantMessage(t, err, tt.wantErr)
			if got != (anp.Money{}) {
				t.Errorf("ParseMoney(%q, %q) returned %+v with an error", tt.text, tt.code, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMoney(%q, %q): %v", tt.text, tt.code, err)
			continue
		}
		if got != (anp.Money{Amount: tt.want, Currency: tt.code}) {
			t.Errorf("ParseMoney(%q, %q) = %+v, want %d", tt.text, tt.code, got, tt.want)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		minor int64
		scale int
		want  string
	}{
		{8500, 2, "85.00"},
		{8550, 2, "85.50"},
		{5, 2, "0.05"},
		{0, 2, "0.00"},
		{0, 0, "0"},
		{1500, 0, "1500"},
		{1234, 3, "1.234"},
		{1, 3, "0.001"},
		{-5, 2, "-0.05"},
		{-8500, 2, "-85.00"},
		{anp.MaxAmount, 2, "10000000000000.00"},
		{math.MaxInt64, 2, "92233720368547758.07"},
		{math.MinInt64, 2, "-92233720368547758.08"},
		{math.MinInt64, 0, "-9223372036854775808"},
	}
	for _, tt := range tests {
		if got := anp.FormatAmount(tt.minor, tt.scale); got != tt.want {
			t.Errorf("FormatAmount(%d, %d) = %q, want %q", tt.minor, tt.scale, got, tt.want)
		}
	}
}

func TestFromMajor(t *testing.T) {
	tests := []struct {
		v       float64
		code    string
		want    int64
		wantErr string
	}{
		{v: 85, code: "USD", want: 8500},
		{v: 85.5, code: "USD", want: 8550},
		{v: 0.3, code: "USD", want: 30},
		{v: 19.99, code: "USD", want: 1999},
		{v: 0, code: "USD", want: 0},
		{v: math.Copysign(0, -1), code: "USD", want: 0},
		{v: 1500, code: "JPY", want: 1500},
		{v: 1.234, code: "KWD", want: 1234},
		{v: 1e13, code: "USD", want: anp.MaxAmount},
		{v: 4999.99, code: "USD", want: 499999},
		{v: 123456789.12, code: "USD", want: 12345678912},

		{v: 1.5, code: "JPY", wantErr: "decimals"},
		{v: 85.555, code: "USD", wantErr: "decimals"},
		{v: 1.2345, code: "KWD", wantErr: "decimals"},
		{v: -1, code: "USD", wantErr: "is negative"},
		{v: math.NaN(), code: "USD", wantErr: "not a finite number"},
		{v: math.Inf(1), code: "USD", wantErr: "not a finite number"},
		{v: math.Inf(-1), code: "USD", wantErr: "not a finite number"},
		{v: 1e13 + 0.01, code: "USD", wantErr: "is too large"},
		{v: 1e300, code: "USD", wantErr: "is too large"},
		{v: 85, code: "usd", wantErr: "ISO 4217"},
		// More decimals than the currency has must be refused at any
		// magnitude, not only for small amounts.
		{v: 10000.001, code: "USD", wantErr: "decimals"},
		{v: 123456.789, code: "USD", wantErr: "decimals"},
		{v: 2000000.5, code: "JPY", wantErr: "decimals"},
	}
	for _, tt := range tests {
		got, err := anp.FromMajor(tt.v, tt.code)
		if tt.wantErr != "" {
			if err == nil {
				t.Errorf("FromMajor(%v, %q) = %+v, want error %q", tt.v, tt.code, got, tt.wantErr)
				continue
			}
			wantMessage(t, err, tt.wantErr)
			continue
		}
		if err != nil || got != (anp.Money{Amount: tt.want, Currency: tt.code}) {
			t.Errorf("FromMajor(%v, %q) = %+v, %v; want %d", tt.v, tt.code, got, err, tt.want)
		}
	}
}

func TestMoneyValidateAndPositive(t *testing.T) {
	tests := []struct {
		m           anp.Money
		validErr    string
		positiveErr string
	}{
		{m: anp.Money{Amount: 8500, Currency: "USD"}},
		{m: anp.Money{Amount: anp.MaxAmount, Currency: "JPY"}},
		{m: anp.Money{Amount: 0, Currency: "USD"}, positiveErr: "greater than zero"},
		{m: anp.Money{Amount: -1, Currency: "USD"}, validErr: "amount -1 is negative"},
		{m: anp.Money{Amount: anp.MaxAmount + 1, Currency: "USD"}, validErr: "is above the maximum"},
		{m: anp.Money{Amount: math.MinInt64, Currency: "USD"}, validErr: "is negative"},
		{m: anp.Money{Amount: 1, Currency: "usd"}, validErr: "ISO 4217"},
		{m: anp.Money{Amount: 1, Currency: ""}, validErr: "ISO 4217"},
	}
	for _, tt := range tests {
		err := tt.m.Validate()
		if tt.validErr != "" {
			wantMessage(t, err, tt.validErr)
			wantMessage(t, tt.m.Positive(), tt.validErr)
			continue
		}
		if err != nil {
			t.Errorf("%+v.Validate(): %v", tt.m, err)
		}
		perr := tt.m.Positive()
		if tt.positiveErr != "" {
			wantMessage(t, perr, tt.positiveErr)
		} else if perr != nil {
			t.Errorf("%+v.Positive(): %v", tt.m, perr)
		}
	}
}

func TestMoneyStringAndMajor(t *testing.T) {
	tests := []struct {
		m     anp.Money
		str   string
		major float64
	}{
		{anp.Money{Amount: 8500, Currency: "USD"}, "85.00 USD", 85},
		{anp.Money{Amount: 8505, Currency: "USD"}, "85.05 USD", 85.05},
		{anp.Money{Amount: 1500, Currency: "JPY"}, "1500 JPY", 1500},
		{anp.Money{Amount: 1234, Currency: "KWD"}, "1.234 KWD", 1.234},
		{anp.Money{Amount: 42, Currency: "???"}, "42(minor) ???", 42},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if got := tt.m.Major(); math.Abs(got-tt.major) > 1e-9 {
			t.Errorf("%+v.Major() = %v, want %v", tt.m, got, tt.major)
		}
	}
}

func TestMoneyJSONIsIntegerMinorUnits(t *testing.T) {
	got := string(mustJSON(t, anp.Money{Amount: 8500, Currency: "USD"}))
	if want := `{"amount":8500,"currency":"USD"}`; got != want {
		t.Fatalf("JSON = %s, want %s", got, want)
	}
	var m anp.Money
	if err := anp.DecodeStrict([]byte(`{"amount":85.5,"currency":"USD"}`), &m); err == nil {
		t.Fatal("a fractional amount decoded into integer minor units")
	}
}

// Every valid amount formats to text that parses back to itself.
func TestMoneyRoundTrip(t *testing.T) {
	for _, code := range []string{"USD", "JPY", "KWD"} {
		scale, err := anp.CurrencyScale(code)
		if err != nil {
			t.Fatal(err)
		}
		for _, amount := range []int64{0, 1, 9, 10, 99, 100, 101, 8500, 123456789, anp.MaxAmount - 1, anp.MaxAmount} {
			text := anp.FormatAmount(amount, scale)
			m, err := anp.ParseMoney(text, code)
			if err != nil || m.Amount != amount {
				t.Errorf("%s %d -> %q -> %+v, %v", code, amount, text, m, err)
			}
		}
	}
}

func TestMoneyDecodesStrictly(t *testing.T) {
	var m anp.Money
	err := json.Unmarshal([]byte(`{"amount":1e2,"currency":"USD"}`), &m)
	if err == nil {
		t.Fatalf("exponent amount decoded as %+v", m)
	}
}
