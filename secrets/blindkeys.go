package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// MaxBlindKeys bounds the number of domains in one credentials file.
const MaxBlindKeys = 10_000

// BlindKeys holds blind per-domain credentials (domain -> credential). It is
// immutable once built and safe for concurrent use. Every formatting and
// encoding path (String, GoString, fmt verbs, JSON, slog) shows the domains
// only, never a credential.
type BlindKeys struct {
	creds map[string]string
}

// NewBlindKeys builds BlindKeys from domain -> credential. Domains are
// normalised with anp.NormalizeDomain; two spellings of one domain are an
// error. Error messages name domains, never credentials.
func NewBlindKeys(m map[string]string) (*BlindKeys, error) {
	if len(m) > MaxBlindKeys {
		return nil, fmt.Errorf("secrets: blind keys: %d domains, at most %d allowed", len(m), MaxBlindKeys)
	}
	b := &BlindKeys{creds: make(map[string]string, len(m))}
	for _, raw := range slices.Sorted(maps.Keys(m)) {
		if err := b.add(raw, m[raw]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *BlindKeys) add(raw, cred string) error {
	d, err := anp.NormalizeDomain(raw)
	if err != nil {
		return fmt.Errorf("secrets: blind keys: %w", err)
	}
	if _, dup := b.creds[d]; dup {
		return fmt.Errorf("secrets: blind keys: domain %s is listed more than once", d)
	}
	if err := anp.ValidateCredential(cred); err != nil {
		return fmt.Errorf("secrets: blind keys: %s: %w", d, err)
	}
	b.creds[d] = cred
	return nil
}

// LoadBlindKeys reads a JSON object {"domain.anp": "credential", ...} from a
// file that group and others cannot access.
func LoadBlindKeys(path string) (*BlindKeys, error) {
	data, err := readPrivateFile(path, "blind keys file")
	if err != nil {
		return nil, err
	}
	defer clear(data)
	b, err := ParseBlindKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return b, nil
}

// ParseBlindKeys parses the JSON object of a blind keys file. The input must
// be UTF-8 and values must be strings; duplicate domains (also after
// normalisation) and trailing data are errors. Error messages never quote
// a credential.
func ParseBlindKeys(data []byte) (*BlindKeys, error) {
	if !utf8.Valid(data) {
		// The decoder would silently turn bad bytes into U+FFFD and so
		// change a credential.
		return nil, fmt.Errorf("secrets: blind keys: the file is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	malformed := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("secrets: blind keys: malformed JSON near byte %d", se.Offset)
		}
		return fmt.Errorf("secrets: blind keys: malformed JSON: want an object of domain to credential strings")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("secrets: blind keys: want a JSON object of domain to credential strings")
	}
	b := &BlindKeys{creds: map[string]string{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		domain, _ := tok.(string) // object keys are always strings
		tok, err = dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		cred, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("secrets: blind keys: the value for %q must be a string", shortText(domain))
		}
		if len(b.creds) >= MaxBlindKeys {
			return nil, fmt.Errorf("secrets: blind keys: more than %d domains", MaxBlindKeys)
		}
		if err := b.add(domain, cred); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("secrets: blind keys: unexpected data after the JSON object")
	}
	return b, nil
}

// Has reports whether there is a credential for domain.
func (b *BlindKeys) Has(domain string) bool {
	_, ok := b.lookup(domain)
	return ok
}

// Domains returns the domains that have a credential, sorted.
func (b *BlindKeys) Domains() []string {
	if b == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(b.creds))
}

// Len returns the number of domains.
func (b *BlindKeys) Len() int {
	if b == nil {
		return 0
	}
	return len(b.creds)
}

// Seal seals the credential for scope.Domain to the seller's encryption key
// for one session and buyer session key (see anp.SealCredential). ok is
// false, with no error, when there is no credential for the domain.
func (b *BlindKeys) Seal(sellerEncKeyHex string, scope anp.CredentialScope) (sealed string, ok bool, err error) {
	cred, ok := b.lookup(scope.Domain)
	if !ok {
		return "", false, nil
	}
	sealed, err = anp.SealCredential(sellerEncKeyHex, scope, cred)
	if err != nil {
		return "", true, err
	}
	return sealed, true, nil
}

// Values returns every credential, in domain order. It exists only so that
// callers can feed a Redactor and tests can prove no credential leaked; do
// not use it to display or transmit credentials.
func (b *BlindKeys) Values() []string {
	if b == nil {
		return nil
	}
	out := make([]string, 0, len(b.creds))
	for _, d := range b.Domains() {
		out = append(out, b.creds[d])
	}
	return out
}

func (b *BlindKeys) lookup(domain string) (string, bool) {
	if b == nil {
		return "", false
	}
	d, err := anp.NormalizeDomain(domain)
	if err != nil {
		return "", false
	}
	c, ok := b.creds[d]
	return c, ok
}

// The formatting methods have value receivers so that a dereferenced
// BlindKeys formats the same way as a pointer.

// String returns "BlindKeys{domains: [a.anp b.anp]}", never a credential.
func (b BlindKeys) String() string {
	return "BlindKeys{domains: [" + strings.Join(b.Domains(), " ") + "]}"
}

// GoString is String, so %#v shows no credential either.
func (b BlindKeys) GoString() string { return b.String() }

// Format implements fmt.Formatter: every verb prints String (quoted for %q).
func (b BlindKeys) Format(f fmt.State, verb rune) {
	s := b.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	io.WriteString(f, s)
}

// MarshalJSON encodes {"domains":[...]}, never a credential.
func (b BlindKeys) MarshalJSON() ([]byte, error) {
	d := b.Domains()
	if d == nil {
		d = []string{}
	}
	return json.Marshal(struct {
		Domains []string `json:"domains"`
	}{d})
}

// LogValue implements slog.LogValuer with String.
func (b BlindKeys) LogValue() slog.Value { return slog.StringValue(b.String()) }

// shortText bounds user text quoted into an error.
func shortText(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
