package anp

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/text/currency"
)

// Money is an amount in integer minor units of an ISO 4217 currency.
// It is never a float on the wire: {"amount":8500,"currency":"USD"} is $85.00.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// MaxAmount bounds every amount on the wire (10^15 minor units) so that sums
// and differences never overflow int64.
const MaxAmount int64 = 1_000_000_000_000_000

// CurrencyScale returns the number of minor-unit digits of an ISO 4217 code
// (2 for USD, 0 for JPY, 3 for KWD) or an error for an unknown code.
func CurrencyScale(code string) (int, error) {
	if len(code) != 3 || strings.ToUpper(code) != code {
		return 0, fmt.Errorf("currency %q is not a three-letter upper-case ISO 4217 code", code)
	}
	u, err := currency.ParseISO(code)
	if err != nil {
		return 0, fmt.Errorf("currency %q is not a known ISO 4217 code", code)
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale, nil
}

// Validate checks the currency code and that the amount is in [0, MaxAmount].
func (m Money) Validate() error {
	if _, err := CurrencyScale(m.Currency); err != nil {
		return err
	}
	if m.Amount < 0 {
		return fmt.Errorf("amount %d is negative", m.Amount)
	}
	if m.Amount > MaxAmount {
		return fmt.Errorf("amount %d is above the maximum %d", m.Amount, MaxAmount)
	}
	return nil
}

// Positive is Validate plus Amount > 0.
func (m Money) Positive() error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Amount == 0 {
		return fmt.Errorf("amount must be greater than zero")
	}
	return nil
}

// String formats the amount in major units with its code: "85.00 USD".
func (m Money) String() string {
	scale, err := CurrencyScale(m.Currency)
	if err != nil {
		return fmt.Sprintf("%d(minor) %s", m.Amount, m.Currency)
	}
	return FormatAmount(m.Amount, scale) + " " + m.Currency
}

// Major returns the amount in major units as a float, for display and for
// models only; protocol arithmetic stays on integers.
func (m Money) Major() float64 {
	scale, err := CurrencyScale(m.Currency)
	if err != nil {
		return float64(m.Amount)
	}
	return float64(m.Amount) / math.Pow10(scale)
}

// FormatAmount renders minor units with the given number of decimals.
func FormatAmount(minor int64, scale int) string {
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ParseMoney parses a decimal amount in major units ("85", "85.5", "85.50")
// for a currency, without any floating point. More decimals than the
// currency has are an error, not a rounding.
func ParseMoney(text, code string) (Money, error) {
	scale, err := CurrencyScale(code)
	if err != nil {
		return Money{}, err
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return Money{}, fmt.Errorf("amount is empty")
	}
	whole, frac, hasDot := strings.Cut(text, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return Money{}, fmt.Errorf("amount %q is not a plain decimal number like 85 or 85.50", text)
	}
	if len(frac) > scale {
		return Money{}, fmt.Errorf("amount %q has %d decimals, %s allows %d", text, len(frac), code, scale)
	}
	digits := strings.TrimLeft(whole+frac+strings.Repeat("0", scale-len(frac)), "0")
	if digits == "" {
		return Money{Amount: 0, Currency: code}, nil
	}
	if len(digits) > 16 {
		return Money{}, fmt.Errorf("amount %q is too large", text)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > MaxAmount {
		return Money{}, fmt.Errorf("amount %q is too large", text)
	}
	return Money{Amount: n, Currency: code}, nil
}

// FromMajor converts a major-unit float (as a JSON-speaking model sends it)
// into minor units. The float's shortest decimal form must fit the
// currency's decimals exactly: extra decimals are refused, never rounded.
func FromMajor(v float64, code string) (Money, error) {
	if _, err := CurrencyScale(code); err != nil {
		return Money{}, err
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Money{}, fmt.Errorf("amount is not a finite number")
	}
	if v < 0 {
		return Money{}, fmt.Errorf("amount %v is negative", v)
	}
	m, err := ParseMoney(strconv.FormatFloat(math.Abs(v), 'f', -1, 64), code)
	if err != nil {
		return Money{}, fmt.Errorf("amount %v: %w", v, err)
	}
	return m, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
