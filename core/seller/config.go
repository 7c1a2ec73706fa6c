package seller

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// MaxConfigBytes bounds a seller config file.
const MaxConfigBytes = 1 << 20

// FileConfig is the JSON config file of the `clinch-mcp seller --config FILE`
// daemon. Unknown fields are rejected. Money amounts are decimal strings in
// major units of PolicyConfig.Currency ("85" or "85.50"). The identity key
// is read from KeyFile by the caller, never from this file. The enrolment
// grant that binds Domain the first time is Grant or the content of
// GrantFile (GrantText); once the domain is bound to the key neither is
// needed. The file may hold a grant, so LoadFileConfig refuses one that
// group or others may read.
type FileConfig struct {
	Domain       string   `json:"domain"`
	KeyFile      string   `json:"key_file"`
	Registry     string   `json:"registry"`             // registry base URL
	Listen       string   `json:"listen"`               // host:port the node listens on
	Endpoint     string   `json:"endpoint"`             // public base URL published in the endpoint record
	Grant        string   `json:"grant,omitempty"`      // enrolment grant for Domain, from the registry operator
	GrantFile    string   `json:"grant_file,omitempty"` // or the file holding it (mode 0600)
	DisplayName  string   `json:"display_name,omitempty"`
	Categories   []string `json:"categories"`
	Capabilities []string `json:"capabilities,omitempty"`
	Modes        []string `json:"modes,omitempty"` // default ["ANP/C"]
	Async        bool     `json:"async,omitempty"`
	AsyncDelay   string   `json:"async_delay,omitempty"` // Go duration before an asynchronous answer, e.g. "2s"
	Demo         bool     `json:"demo,omitempty"`
	// Attributes are what buyers' questions are answered from, by topic:
	// {"warranty": "2 years", "delivery": "3 working days", ...}.
	Attributes Attributes `json:"attributes,omitempty"`
	// MinBuyerTrust is Config.MinBuyerTrust: the lowest buyer reputation
	// (0..100) the node negotiates with; 0 or absent: none.
	MinBuyerTrust float64      `json:"min_buyer_trust,omitempty"`
	PolicyConfig  PolicyConfig `json:"policy"`
}

// PolicyConfig is the "policy" object of a FileConfig: a CurvePolicy in
// decimal major units.
type PolicyConfig struct {
	Currency          string   `json:"currency"`
	List              string   `json:"list"`
	Floor             string   `json:"floor"`
	Exponent          float64  `json:"exponent,omitempty"`
	MaxTurns          int      `json:"max_turns,omitempty"`
	RequireCredential bool     `json:"require_credential,omitempty"`
	Items             []string `json:"items,omitempty"`
	Pitch             string   `json:"pitch,omitempty"`
}

// LoadFileConfig reads and checks a seller config file. It refuses a file
// that group or others may access (CheckPrivateFile).
func LoadFileConfig(path string) (*FileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seller: config: %w", err)
	}
	defer f.Close()
	if err := checkPrivateMode(f, "config file", path); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("seller: config %s: %w", path, err)
	}
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("seller: config %s is larger than %d bytes", path, MaxConfigBytes)
	}
	fc, err := ParseFileConfig(data)
	if err != nil {
		return nil, fmt.Errorf("seller: config %s: %w", path, err)
	}
	return fc, nil
}

// CheckPrivateFile refuses a file (a seller config, key or grant file)
// whose mode lets group or others access it (mode & 0o077 != 0), with an
// error naming the file, its mode and the chmod that fixes it. what names
// the file's role.
func CheckPrivateFile(path, what string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("seller: %s: %w", what, err)
	}
	defer f.Close()
	return checkPrivateMode(f, what, path)
}

// checkPrivateMode is CheckPrivateFile on an open file (so the file
// checked is the one read). Windows has no such mode bits.
func checkPrivateMode(f *os.File, what, path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("seller: %s %s: %w", what, path, err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("seller: %s %s has mode %04o: it may hold secrets and must not be accessible by group or others (run: chmod 600 %s)", what, path, perm, path)
	}
	return nil
}

// GrantText returns the enrolment grant: Grant, or the trimmed content of
// GrantFile, which must not be accessible by group or others. "" means
// none: none is configured, or GrantFile does not exist (it may be deleted
// once the domain is bound).
func (fc *FileConfig) GrantText() (string, error) {
	if fc.GrantFile == "" {
		return fc.Grant, nil
	}
	f, err := os.Open(fc.GrantFile)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("seller: grant_file: %w", err)
	}
	defer f.Close()
	if err := checkPrivateMode(f, "grant file", fc.GrantFile); err != nil {
		return "", err
	}
	data, err := io.ReadAll(io.LimitReader(f, anp.MaxGrantLen+64))
	if err != nil {
		return "", fmt.Errorf("seller: grant file %s: %w", fc.GrantFile, err)
	}
	g := strings.TrimSpace(string(data))
	if g == "" || len(g) > anp.MaxGrantLen {
		return "", fmt.Errorf("seller: grant file %s must hold one enrolment grant (at most %d bytes)", fc.GrantFile, anp.MaxGrantLen)
	}
	return g, nil
}

// ParseFileConfig decodes and checks config JSON: strict (no unknown
// fields, no trailing data), every error naming its field.
func ParseFileConfig(data []byte) (*FileConfig, error) {
	var fc FileConfig
	if err := anp.DecodeStrict(data, &fc); err != nil {
		return nil, describeJSONError(data, err)
	}
	if err := fc.Validate(); err != nil {
		return nil, err
	}
	return &fc, nil
}

// Validate checks every field and normalises the domain.
func (fc *FileConfig) Validate() error {
	d, err := anp.NormalizeDomain(fc.Domain)
	if err != nil {
		return fmt.Errorf("field domain: %w", err)
	}
	fc.Domain = d
	if strings.TrimSpace(fc.KeyFile) == "" {
		return errors.New("field key_file: the path of the identity key file is required")
	}
	if fc.Grant != "" && fc.GrantFile != "" {
		return errors.New("field grant_file: set grant or grant_file, not both")
	}
	if len(fc.Grant) > anp.MaxGrantLen {
		return fmt.Errorf("field grant: an enrolment grant is at most %d bytes", anp.MaxGrantLen)
	}
	if err := fc.checkAddresses(); err != nil {
		return err
	}
	if err := fc.checkListing(); err != nil {
		return err
	}
	if _, err := fc.ModeList(); err != nil {
		return err
	}
	if len(fc.DisplayName) > 100 {
		return errors.New("field display_name: at most 100 bytes")
	}
	if _, err := fc.Policy(); err != nil {
		return err
	}
	if err := fc.Attributes.Validate(); err != nil {
		return fmt.Errorf("field attributes: %w", err)
	}
	return nil
}

// checkAddresses checks where the node talks: the registry base URL, the
// listen address and the public endpoint base URL, in that order.
func (fc *FileConfig) checkAddresses() error {
	if err := checkBaseURL(fc.Registry); err != nil {
		return fmt.Errorf("field registry: %w", err)
	}
	if _, _, err := net.SplitHostPort(fc.Listen); err != nil {
		return fmt.Errorf("field listen: %q is not host:port (for example 127.0.0.1:8788 or :8788)", fc.Listen)
	}
	if err := checkBaseURL(fc.Endpoint); err != nil {
		return fmt.Errorf("field endpoint: %w", err)
	}
	return nil
}

// checkListing checks the categories (1 to 16 of them) and the
// capabilities the node lists itself under.
func (fc *FileConfig) checkListing() error {
	if len(fc.Categories) == 0 || len(fc.Categories) > 16 {
		return errors.New("field categories: list 1 to 16 categories")
	}
	if err := checkEntries("categories", "category", fc.Categories); err != nil {
		return err
	}
	return checkEntries("capabilities", "capability", fc.Capabilities)
}

// checkEntries checks that every entry of the list in field is 1 to 64
// characters and not blank; noun names one entry in the error.
func checkEntries(field, noun string, list []string) error {
	for i, c := range list {
		if strings.TrimSpace(c) == "" || len(c) > 64 {
			return fmt.Errorf("field %s[%d]: a %s is 1 to 64 characters", field, i, noun)
		}
	}
	return nil
}

// Policy builds the CurvePolicy of the "policy" object.
func (fc *FileConfig) Policy() (*CurvePolicy, error) {
	pc := &fc.PolicyConfig
	if pc.Currency == "" {
		return nil, errors.New("field policy.currency: an ISO 4217 code such as USD is required")
	}
	if _, err := anp.CurrencyScale(pc.Currency); err != nil {
		return nil, fmt.Errorf("field policy.currency: %w", err)
	}
	list, err := anp.ParseMoney(pc.List, pc.Currency)
	if err != nil {
		return nil, fmt.Errorf("field policy.list: %w", err)
	}
	floor, err := anp.ParseMoney(pc.Floor, pc.Currency)
	if err != nil {
		return nil, fmt.Errorf("field policy.floor: %w", err)
	}
	p := &CurvePolicy{
		List:              list,
		Floor:             floor,
		Exponent:          pc.Exponent,
		MaxTurns:          pc.MaxTurns,
		RequireCredential: pc.RequireCredential,
		Items:             append([]string(nil), pc.Items...),
		Pitch:             pc.Pitch,
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("field policy: %w", err)
	}
	return p, nil
}

// ModeList parses Modes; an empty list means [ANP/C].
func (fc *FileConfig) ModeList() ([]anp.Mode, error) {
	if len(fc.Modes) == 0 {
		return []anp.Mode{anp.ModeC}, nil
	}
	out := make([]anp.Mode, 0, len(fc.Modes))
	for i, s := range fc.Modes {
		m, err := anp.ParseMode(s)
		if err != nil {
			return nil, fmt.Errorf("field modes[%d]: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// NodeConfig builds the Config of a node from the file, the identity key
// (loaded by the caller from KeyFile) and a registry client.
func (fc *FileConfig) NodeConfig(identity ed25519.PrivateKey, reg Registry, logger zerolog.Logger) (Config, error) {
	p, err := fc.Policy()
	if err != nil {
		return Config{}, err
	}
	modes, err := fc.ModeList()
	if err != nil {
		return Config{}, err
	}
	delay, err := fc.asyncDelay()
	if err != nil {
		return Config{}, err
	}
	if fc.MinBuyerTrust < 0 || fc.MinBuyerTrust > 100 {
		return Config{}, fmt.Errorf("field min_buyer_trust: %v is not a reputation from 0 to 100", fc.MinBuyerTrust)
	}
	return Config{
		MinBuyerTrust: fc.MinBuyerTrust,
		AsyncDelay:    delay,
		Domain:        fc.Domain,
		Identity:      identity,
		Policy:        p,
		Modes:         modes,
		Categories:    append([]string(nil), fc.Categories...),
		Capabilities:  append([]string(nil), fc.Capabilities...),
		DisplayName:   fc.DisplayName,
		Demo:          fc.Demo,
		Attributes:    fc.Attributes,
		Async:         fc.Async,
		Registry:      reg,
		Logger:        logger,
	}, nil
}

// checkBaseURL accepts an http(s) URL with a host and no credentials,
// query or fragment.
func checkBaseURL(s string) error {
	if s == "" {
		return errors.New("an http(s) URL is required")
	}
	u, err := url.Parse(s)
	if err != nil || !anp.IsBaseURL(u) {
		return fmt.Errorf("%q must be an http(s) URL without credentials, query or fragment", s)
	}
	return nil
}

// describeJSONError turns a decoding error into a message naming the field
// or position.
func describeJSONError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("config is empty")
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %v", line, col, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("field %s: a JSON %s cannot be a %s", field, typ.Value, typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: the file ends in the middle of a value")
	}
	if strings.Contains(err.Error(), `unknown field "operator_token"`) {
		return errors.New(`field operator_token is no longer used: ask the registry operator for an enrolment grant for this domain (clinch-mcp registry grant DOMAIN) and set it as "grant" or "grant_file"`)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown field %s (fields are snake_case, for example key_file or max_turns)", msg)
	}
	return fmt.Errorf("invalid config: %v", err)
}

// position returns the 1-based line and column of a byte offset.
func position(data []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// asyncDelay parses AsyncDelay ("" means none).
func (fc *FileConfig) asyncDelay() (time.Duration, error) {
	if fc.AsyncDelay == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(fc.AsyncDelay)
	if err != nil || d < 0 || d > 10*time.Minute {
		return 0, fmt.Errorf("seller config: field async_delay: %q must be a duration between 0s and 10m, e.g. \"2s\"", fc.AsyncDelay)
	}
	return d, nil
}
