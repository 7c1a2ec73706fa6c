package anp

import (
	"errors"
	"fmt"
	"strings"
)

// The named failures of addresses and domains (test with errors.Is); the
// vectors in testdata/anp/addresses.json name them in snake case.
var (
	ErrAddressLength   = errors.New("address longer than 300 bytes")
	ErrAddressMode     = errors.New("address does not start with ANP/A, ANP/B or ANP/C")
	ErrAddressNoDomain = errors.New("address has no domain")
	ErrDomainEmpty     = errors.New("domain is empty")
	ErrDomainLength    = errors.New("domain longer than 253 bytes")
	ErrDomainLabels    = errors.New("domain has fewer than two labels")
	ErrLabelEmpty      = errors.New("domain label is empty")
	ErrLabelLength     = errors.New("domain label longer than 63 bytes")
	ErrLabelHyphen     = errors.New("domain label starts or ends with '-'")
	ErrLabelCharacter  = errors.New("domain label has a character other than a-z, 0-9 and '-'")
	ErrDomainLastLabel = errors.New("last domain label does not start with a letter")
)

// Mode is the execution profile of a negotiation (seed: ANP/A, ANP/B, ANP/C).
type Mode string

// The three modes of the protocol.
const (
	ModeA Mode = "ANP/A" // both sides run the native Clinch edge model
	ModeB Mode = "ANP/B" // mixed: one native side, one custom engine
	ModeC Mode = "ANP/C" // both sides run custom decision engines
)

// Valid reports whether m is one of the three known modes.
func (m Mode) Valid() bool { return m == ModeA || m == ModeB || m == ModeC }

// ParseMode parses "ANP/A", "ANP/B" or "ANP/C".
func ParseMode(s string) (Mode, error) {
	m := Mode(s)
	if !m.Valid() {
		return "", fmt.Errorf("anp: unknown mode %q: want ANP/A, ANP/B or ANP/C", s)
	}
	return m, nil
}

// Address names a seller and the mode to negotiate in: "ANP/C.kitchen-outlet.anp".
type Address struct {
	Mode   Mode
	Domain string
}

// String returns the canonical text form of the address.
func (a Address) String() string { return string(a.Mode) + "." + a.Domain }

// ParseAddress parses "ANP/<A|B|C>.<domain>". The mode is case-sensitive;
// ASCII letters in the domain are folded to lower case and the domain must
// then pass ValidateDomain.
func ParseAddress(s string) (Address, error) {
	if len(s) > 300 {
		return Address{}, classErr(ErrAddressLength, "anp: address is %d bytes long, at most 300 allowed", len(s))
	}
	if !strings.HasPrefix(s, "ANP/") {
		return Address{}, classErr(ErrAddressMode, "anp: address %q must start with \"ANP/\" (for example ANP/C.kitchen-outlet.anp)", s)
	}
	dot := strings.IndexByte(s, '.')
	if dot < 0 {
		return Address{}, classErr(ErrAddressNoDomain, "anp: address %q has no domain: want MODE.domain, for example ANP/C.kitchen-outlet.anp", s)
	}
	mode, err := ParseMode(s[:dot])
	if err != nil {
		return Address{}, classErr(ErrAddressMode, "anp: address %q: %v", s, err)
	}
	domain, err := NormalizeDomain(s[dot+1:])
	if err != nil {
		return Address{}, fmt.Errorf("anp: address %q: %w", s, err)
	}
	return Address{Mode: mode, Domain: domain}, nil
}

// DefaultMode is the mode of a seller address written as a bare domain.
const DefaultMode = ModeC

// ParseSellerAddress parses what a person or a model writes for a seller:
// a full address (ANP/C.kitchen-outlet.anp) or a bare domain
// (kitchen-outlet.anp), which means DefaultMode. Surrounding spaces are ignored.
func ParseSellerAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if s != "" && !strings.HasPrefix(s, "ANP/") && !strings.Contains(s, "/") {
		s = string(DefaultMode) + "." + s
	}
	return ParseAddress(s)
}

// NormalizeDomain folds ASCII upper case to lower case and validates the result.
func NormalizeDomain(d string) (string, error) {
	b := []byte(d)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	d = string(b)
	if err := ValidateDomain(d); err != nil {
		return "", err
	}
	return d, nil
}

// MaxDomainLen is the longest domain, in bytes.
const MaxDomainLen = 253

// ValidateDomain checks strict domain syntax: at least two dot-separated
// labels of [a-z0-9-], each 1..63 bytes, not starting or ending with '-',
// the whole at most 253 bytes, and a last label that starts with a letter.
func ValidateDomain(d string) error {
	if d == "" {
		return classErr(ErrDomainEmpty, "domain is empty")
	}
	if len(d) > MaxDomainLen {
		return classErr(ErrDomainLength, "domain is %d bytes long, at most %d allowed", len(d), MaxDomainLen)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return classErr(ErrDomainLabels, "domain %q needs at least two labels (for example shop.anp)", d)
	}
	for i, l := range labels {
		if err := checkLabel(d, i, l); err != nil {
			return err
		}
	}
	last := labels[len(labels)-1]
	if last[0] < 'a' || last[0] > 'z' {
		return classErr(ErrDomainLastLabel, "domain %q: the last label must start with a letter", d)
	}
	return nil
}

// checkLabel checks label l, number i (from 0) of domain d: 1..63 bytes of
// [a-z0-9-], not starting or ending with '-'. Errors quote d and count
// labels from 1.
func checkLabel(d string, i int, l string) error {
	if l == "" {
		return classErr(ErrLabelEmpty, "domain %q has an empty label", d)
	}
	if len(l) > 63 {
		return classErr(ErrLabelLength, "domain %q: label %d is %d bytes long, at most 63 allowed", d, i+1, len(l))
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return classErr(ErrLabelHyphen, "domain %q: label %q starts or ends with '-'", d, l)
	}
	for j := 0; j < len(l); j++ {
		if c := l[j]; !isLabelByte(c) {
			return classErr(ErrLabelCharacter, "domain %q: character %q at label %d is not allowed (only a-z, 0-9 and '-')", d, c, i+1)
		}
	}
	return nil
}

// isLabelByte reports whether c may appear in a domain label: a-z, 0-9 or '-'.
func isLabelByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}
