package seller

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

const sampleConfig = `{
  "domain": "Kitchen-Outlet.anp",
  "key_file": "/var/lib/clinch/seller.key",
  "registry": "https://registry.clinch.example",
  "listen": "127.0.0.1:8788",
  "endpoint": "https://seller.kitchen-outlet.example/anp",
  "grant": "eyJkb21haW4iOiJraXRjaGVuLW91dGxldC5hbnAifQ.00",
  "display_name": "Kitchen Outlet",
  "categories": ["kitchen", "cookware"],
  "capabilities": ["shipping:us"],
  "modes": ["ANP/C", "ANP/B"],
  "async": true,
  "demo": true,
  "policy": {
    "currency": "USD",
    "list": "129.99",
    "floor": "99.5",
    "exponent": 0.6,
    "max_turns": 6,
    "require_credential": false,
    "items": ["dutch oven", "skillet"],
    "pitch": "Ships in 2 days."
  }
}`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seller.json")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFileConfig(t *testing.T) {
	fc, err := LoadFileConfig(writeConfig(t, sampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if fc.Domain != "kitchen-outlet.anp" || fc.Listen != "127.0.0.1:8788" || !fc.Async || !fc.Demo || len(fc.Categories) != 2 {
		t.Fatalf("config %+v", fc)
	}
	p, err := fc.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.List != anptest.USD(12999) || p.Floor != anptest.USD(9950) || p.Exponent != 0.6 || p.MaxTurns != 6 || p.Pitch != "Ships in 2 days." || len(p.Items) != 2 {
		t.Fatalf("policy %+v", p)
	}
	cfg, err := fc.NodeConfig(sellerKey, chainOnly{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Modes) != 2 || cfg.Modes[1] != anp.ModeB || cfg.Domain != "kitchen-outlet.anp" || !cfg.Async {
		t.Fatalf("node config %+v", cfg)
	}
	if _, err := NewNode(cfg); err != nil {
		t.Fatalf("NewNode from the file config: %v", err)
	}
}

func TestLoadFileConfigErrorsNameTheField(t *testing.T) {
	edit := func(old, new string) string {
		if !strings.Contains(sampleConfig, old) {
			t.Fatalf("sample has no %q", old)
		}
		return strings.Replace(sampleConfig, old, new, 1)
	}
	cases := []struct {
		name, text, want string
	}{
		{"unknown field", edit(`"demo": true,`, `"demo": true, "budget": 5,`), `unknown field "budget"`},
		{"unknown policy field", edit(`"max_turns": 6,`, `"max_turns": 6, "min": "1",`), `unknown field "min"`},
		{"camelCase field", edit(`"key_file"`, `"keyFile"`), `unknown field "keyFile"`},
		{"wrong type", edit(`"max_turns": 6`, `"max_turns": "6"`), "field policy.max_turns"},
		{"float money", edit(`"list": "129.99"`, `"list": 129.99`), "field policy.list"},
		{"syntax error", edit(`"demo": true,`, `"demo": true,,`), "line 13"},
		{"truncated", sampleConfig[:100], "invalid JSON"},
		{"trailing data", sampleConfig + "{}", "after the JSON value"},
		{"empty", "", "empty"},
		{"bad domain", edit(`"Kitchen-Outlet.anp"`, `"kitchen_outlet"`), "field domain"},
		{"no key file", edit(`"/var/lib/clinch/seller.key"`, `""`), "field key_file"},
		{"bad registry", edit(`"https://registry.clinch.example"`, `"ftp://registry"`), "field registry"},
		{"bad listen", edit(`"127.0.0.1:8788"`, `"8788"`), "field listen"},
		{"endpoint with query", edit(`"https://seller.kitchen-outlet.example/anp"`, `"https://seller.example/anp?x=1"`), "field endpoint"},
		{"no categories", edit(`["kitchen", "cookware"]`, `[]`), "field categories"},
		{"bad mode", edit(`"ANP/B"`, `"ANP/Q"`), "field modes[1]"},
		{"bad currency", edit(`"USD"`, `"usd"`), "field policy.currency"},
		{"too many decimals", edit(`"129.99"`, `"129.999"`), "field policy.list"},
		{"floor above list", edit(`"99.5"`, `"150"`), "field policy: seller: curve policy floor 150.00 USD is above the list price 129.99 USD"},
		{"no floor", edit(`"floor": "99.5",`, ``), "field policy.floor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			_, err := LoadFileConfig(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want it to name %q and the path", err, tc.want)
			}
		})
	}
	if _, err := LoadFileConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("a missing file loaded")
	}
	big := writeConfig(t, strings.Repeat(" ", MaxConfigBytes+1))
	if _, err := LoadFileConfig(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversize config: %v", err)
	}
}

// The listing checks name the entry and say the rule, word for word.
func TestFileConfigListingErrors(t *testing.T) {
	edit := func(old, new string) string {
		if !strings.Contains(sampleConfig, old) {
			t.Fatalf("sample has no %q", old)
		}
		return strings.Replace(sampleConfig, old, new, 1)
	}
	seventeen := `["c"` + strings.Repeat(`, "c"`, 16) + `]`
	cases := []struct {
		name, text, want string
	}{
		{"17 categories", edit(`["kitchen", "cookware"]`, seventeen), "field categories: list 1 to 16 categories"},
		{"blank category", edit(`["kitchen", "cookware"]`, `["kitchen", " "]`), "field categories[1]: a category is 1 to 64 characters"},
		{"long category", edit(`["kitchen", "cookware"]`, `["`+strings.Repeat("k", 65)+`"]`), "field categories[0]: a category is 1 to 64 characters"},
		{"empty capability", edit(`["shipping:us"]`, `["shipping:us", ""]`), "field capabilities[1]: a capability is 1 to 64 characters"},
		{"long capability", edit(`["shipping:us"]`, `["`+strings.Repeat("s", 65)+`"]`), "field capabilities[0]: a capability is 1 to 64 characters"},
		{"long display name", edit(`"Kitchen Outlet"`, `"`+strings.Repeat("n", 101)+`"`), "field display_name: at most 100 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFileConfig([]byte(tc.text))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	long := edit(`["kitchen", "cookware"]`, `["`+strings.Repeat("k", 64)+`"]`)
	if _, err := ParseFileConfig([]byte(strings.Replace(long, `["shipping:us"]`, `["`+strings.Repeat("s", 64)+`"]`, 1))); err != nil {
		t.Fatalf("64-character category and capability: %v", err)
	}
}

// TestConfigFilesMustBePrivate: a config, key or grant file that group or
// others may read is refused, naming the file, its mode and the chmod.
func TestConfigFilesMustBePrivate(t *testing.T) {
	path := writeConfig(t, sampleConfig)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFileConfig(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod 600") ||
			!strings.Contains(err.Error(), "0"+strconv.FormatUint(uint64(mode), 8)) {
			t.Errorf("config with mode %04o: %v, want a refusal naming the file, the mode and chmod 600", mode, err)
		}
		if err := CheckPrivateFile(path, "key file"); err == nil || !strings.Contains(err.Error(), "key file "+path) {
			t.Errorf("CheckPrivateFile with mode %04o: %v", mode, err)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := LoadFileConfig(path)
	if err != nil {
		t.Fatalf("mode 0600: %v", err)
	}
	if g, err := fc.GrantText(); err != nil || !strings.HasPrefix(g, "eyJ") {
		t.Fatalf("grant: %q %v", g, err)
	}

	grantFile := filepath.Join(t.TempDir(), "grant")
	if err := os.WriteFile(grantFile, []byte("  the-grant\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fc.Grant, fc.GrantFile = "", grantFile
	if _, err := fc.GrantText(); err == nil || !strings.Contains(err.Error(), "grant file "+grantFile) || !strings.Contains(err.Error(), "0644") {
		t.Fatalf("readable grant file: %v", err)
	}
	if err := os.Chmod(grantFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if g, err := fc.GrantText(); err != nil || g != "the-grant" {
		t.Fatalf("grant file: %q %v", g, err)
	}
}

func TestConfigGrantFields(t *testing.T) {
	both := strings.Replace(sampleConfig, `"grant":`, `"grant_file": "/etc/g", "grant":`, 1)
	if _, err := ParseFileConfig([]byte(both)); err == nil || !strings.Contains(err.Error(), "grant or grant_file") {
		t.Fatalf("grant and grant_file: %v", err)
	}
	old := strings.Replace(sampleConfig, `"grant":`, `"operator_token":`, 1)
	if _, err := ParseFileConfig([]byte(old)); err == nil || !strings.Contains(err.Error(), "operator_token is no longer used") || !strings.Contains(err.Error(), "registry grant") {
		t.Fatalf("operator_token: %v, want the way to a grant", err)
	}
}
