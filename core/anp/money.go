package anp

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Rejection classes of currency codes and decimal amounts. Every error of
// CurrencyScale, ParseMoney and FromMajor wraps one of them.
var (
	// ErrCurrencyFormat: the code is not three upper-case ASCII letters
	// (lower case, white space and other characters are refused, never folded).
	ErrCurrencyFormat = errors.New("currency code is not three upper-case letters")
	// ErrCurrencyUnknown: the code is not in ISO 4217 list one.
	ErrCurrencyUnknown = errors.New("currency code is not in ISO 4217 list one")
	// ErrCurrencyWithdrawn: the code was withdrawn from ISO 4217 list one.
	ErrCurrencyWithdrawn = errors.New("currency code was withdrawn from ISO 4217")
	// ErrCurrencyNoMinorUnit: the code is in list one with minor unit "N.A."
	// (gold, SDR, the test code XTS, XXX…) and cannot denominate money.
	ErrCurrencyNoMinorUnit = errors.New("currency code has no ISO 4217 minor unit")
	// ErrAmountFormat: the decimal text is not digits with at most one point.
	ErrAmountFormat = errors.New("amount is not a plain decimal number")
	// ErrAmountPrecision: the text has more decimals than the currency.
	ErrAmountPrecision = errors.New("amount has more decimals than the currency")
	// ErrAmountRange: the amount is negative, not finite or above MaxAmount.
	ErrAmountRange = errors.New("amount is out of range")
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

// CurrencyScale returns the minor unit of an ISO 4217 code from list one
// (2 for USD, 0 for JPY, 3 for KWD, 4 for CLF), or an error wrapping
// ErrCurrencyFormat, ErrCurrencyUnknown, ErrCurrencyWithdrawn or
// ErrCurrencyNoMinorUnit.
func CurrencyScale(code string) (int, error) {
	if len(code) != 3 || !upperASCII(code) {
		return 0, classErr(ErrCurrencyFormat, "currency %q is not a three-letter upper-case ISO 4217 code", code)
	}
	c, ok := iso4217[code]
	if !ok {
		if now, gone := withdrawnISO4217[code]; gone {
			return 0, classErr(ErrCurrencyWithdrawn, "currency %q is no longer in ISO 4217 list one (use %s)", code, now)
		}
		return 0, classErr(ErrCurrencyUnknown, "currency %q is not a known ISO 4217 code", code)
	}
	if c.MinorUnit == noMinorUnit {
		return 0, classErr(ErrCurrencyNoMinorUnit, "currency %q has no minor unit and cannot be used for money", code)
	}
	return c.MinorUnit, nil
}

// classError is an error of one rejection class: its text is the message
// alone, and errors.Is matches the class.
type classError struct {
	class error
	msg   string
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

func classErr(class error, format string, args ...any) error {
	return &classError{class: class, msg: fmt.Sprintf(format, args...)}
}

func upperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// Validate checks the currency code and that the amount is in [0, MaxAmount].
func (m Money) Validate() error {
	if _, err := CurrencyScale(m.Currency); err != nil {
		return err
	}
	if m.Amount < 0 {
		return classErr(ErrAmountRange, "amount %d is negative", m.Amount)
	}
	if m.Amount > MaxAmount {
		return classErr(ErrAmountRange, "amount %d is above the maximum %d", m.Amount, MaxAmount)
	}
	return nil
}

// Positive is Validate plus Amount > 0.
func (m Money) Positive() error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Amount == 0 {
		return classErr(ErrAmountRange, "amount must be greater than zero")
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
// currency has are an error, not a rounding. The text is exactly the number:
// white space anywhere (" 85", "85 ") is refused like any other character.
func ParseMoney(text, code string) (Money, error) {
	scale, err := CurrencyScale(code)
	if err != nil {
		return Money{}, err
	}
	if text == "" {
		return Money{}, classErr(ErrAmountFormat, "amount is empty")
	}
	whole, frac, hasDot := strings.Cut(text, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return Money{}, classErr(ErrAmountFormat, "amount %q is not a plain decimal number like 85 or 85.50", text)
	}
	if len(frac) > scale {
		return Money{}, classErr(ErrAmountPrecision, "amount %q has %d decimals, %s allows %d", text, len(frac), code, scale)
	}
	digits := strings.TrimLeft(whole+frac+strings.Repeat("0", scale-len(frac)), "0")
	if digits == "" {
		return Money{Amount: 0, Currency: code}, nil
	}
	if len(digits) > 16 {
		return Money{}, classErr(ErrAmountRange, "amount %q is too large", text)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > MaxAmount {
		return Money{}, classErr(ErrAmountRange, "amount %q is too large", text)
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
		return Money{}, classErr(ErrAmountRange, "amount is not a finite number")
	}
	if v < 0 {
		return Money{}, classErr(ErrAmountRange, "amount %v is negative", v)
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
