package secrets

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

const (
	credShop   = "cred-shop-7f3a9c41e2"
	credOutlet = `cred "outlet" \ 88b1d`
)

func testBlindKeys(t *testing.T) *BlindKeys {
	t.Helper()
	b, err := NewBlindKeys(map[string]string{"Shop.ANP": credShop, "kitchen-outlet.anp": credOutlet})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewBlindKeys(t *testing.T) {
	b := testBlindKeys(t)
	if got, want := b.Domains(), []string{"kitchen-outlet.anp", "shop.anp"}; !slices.Equal(got, want) {
		t.Fatalf("Domains() = %v, want %v", got, want)
	}
	if b.Len() != 2 {
		t.Fatalf("Len() = %d", b.Len())
	}
	for _, d := range []string{"shop.anp", "SHOP.anp", "kitchen-outlet.anp"} {
		if !b.Has(d) {
			t.Errorf("Has(%q) = false", d)
		}
	}
	for _, d := range []string{"other.anp", "shop", "", "ANP/C.shop.anp"} {
		if b.Has(d) {
			t.Errorf("Has(%q) = true", d)
		}
	}
	if got, want := b.Values(), []string{credOutlet, credShop}; !slices.Equal(got, want) {
		t.Fatalf("Values() in domain order = %q, want %q", got, want)
	}
}

func TestNewBlindKeysRejects(t *testing.T) {
	const secret = "do-not-print-this-credential"
	tests := map[string]map[string]string{
		"bad domain":           {"not a domain": secret},
		"single label":         {"localhost": secret},
		"empty credential":     {"shop.anp": ""},
		"short credential":     {"shop.anp": "12345"},
		"control character":    {"shop.anp": secret + "\n"},
		"invalid utf-8":        {"shop.anp": secret + "\xff"},
		"too long":             {"shop.anp": strings.Repeat("x", anp.MaxCredentialLen+1)},
		"duplicate after case": {"shop.anp": secret, "SHOP.anp": secret + "2"},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := NewBlindKeys(m)
			if err == nil {
				t.Fatalf("accepted: %v", b)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q leaks the credential", err)
			}
		})
	}
}

func TestParseBlindKeys(t *testing.T) {
	tests := []struct {
		name, in string
		domains  []string
	}{
		{"two", `{"shop.anp":"abcdefgh","Kitchen-Outlet.anp":"ijklmnop"}`, []string{"kitchen-outlet.anp", "shop.anp"}},
		{"empty object", `{}`, []string{}},
		{"whitespace", " {\n \"shop.anp\" : \"abcdefgh\" \n}\n", []string{"shop.anp"}},
		{"escaped value", `{"shop.anp":"a\"b\\c\u00e9"}`, []string{"shop.anp"}},
		{"not an object", `["shop.anp","abcdefgh"]`, nil},
		{"null", `null`, nil},
		{"number value", `{"shop.anp":12345678}`, nil},
		{"object value", `{"shop.anp":{"k":"v"}}`, nil},
		{"null value", `{"shop.anp":null}`, nil},
		{"duplicate", `{"shop.anp":"abcdefgh","shop.anp":"ijklmnop"}`, nil},
		{"duplicate after normalising", `{"shop.anp":"abcdefgh","SHOP.ANP":"ijklmnop"}`, nil},
		{"bad domain", `{"shop":"abcdefgh"}`, nil},
		{"trailing data", `{"shop.anp":"abcdefgh"} {}`, nil},
		{"trailing garbage", `{"shop.anp":"abcdefgh"}x`, nil},
		{"truncated", `{"shop.anp":"abcdefgh"`, nil},
		{"empty", ``, nil},
		{"missing colon", `{"shop.anp" "abcdefgh"}`, nil},
		{"invalid utf-8 in value", "{\"shop.anp\":\"abcdefgh\xff\"}", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBlindKeys([]byte(tc.in))
			if tc.domains == nil {
				if err == nil {
					t.Fatalf("accepted: %v", b)
				}
				if strings.Contains(err.Error(), "abcdefgh") || strings.Contains(err.Error(), "ijklmnop") {
					t.Fatalf("error %q leaks a credential", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Domains(); !slices.Equal(got, tc.domains) && !(len(got) == 0 && len(tc.domains) == 0) {
				t.Fatalf("domains %v, want %v", got, tc.domains)
			}
		})
	}
}

func TestLoadBlindKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "blind.json")
	if err := os.WriteFile(path, []byte(`{"shop.anp":"`+credShop+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBlindKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Has("shop.anp") || !slices.Equal(b.Values(), []string{credShop}) {
		t.Fatalf("loaded %v", b)
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadBlindKeys(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "0644") {
			t.Fatalf("world-readable file: got %v", err)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"shop.anp":`+credShop+`}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadBlindKeys(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), credShop) {
		t.Fatalf("malformed file: got %v", err)
	}
}

func TestBlindKeysNeverFormatsValues(t *testing.T) {
	b := testBlindKeys(t)
	const want = "BlindKeys{domains: [kitchen-outlet.anp shop.anp]}"
	if s := b.String(); s != want {
		t.Fatalf("String() = %q, want %q", s, want)
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10v", "%-8s"} {
		outputs = append(outputs, fmt.Sprintf(verb, b), fmt.Sprintf(verb, *b))
	}
	outputs = append(outputs, fmt.Sprint(b), fmt.Sprint(*b), fmt.Sprintf("%v", []*BlindKeys{b}),
		fmt.Sprintf("%+v", struct{ K BlindKeys }{*b}), fmt.Sprintf("%#v", map[string]any{"k": b}))
	for _, v := range []any{b, *b, map[string]any{"keys": b}} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(j))
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("loaded", "keys", b)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("loaded", "keys", *b)
	outputs = append(outputs, logBuf.String())
	for _, out := range outputs {
		for _, v := range b.Values() {
			if strings.Contains(out, v) || strings.Contains(out, "cred-shop") || strings.Contains(out, "outlet\\\"") {
				t.Fatalf("output %q contains a credential", out)
			}
		}
		if !strings.Contains(out, "shop.anp") {
			t.Fatalf("output %q does not name the domains", out)
		}
	}
	j, _ := json.Marshal(b)
	if string(j) != `{"domains":["kitchen-outlet.anp","shop.anp"]}` {
		t.Fatalf("JSON = %s", j)
	}
	if s := fmt.Sprintf("%q", b); s != strconvQuote(want) {
		t.Fatalf("%%q = %s", s)
	}
	var nilKeys *BlindKeys
	if nilKeys.Has("shop.anp") || nilKeys.Domains() != nil || nilKeys.Values() != nil || nilKeys.Len() != 0 {
		t.Fatal("nil BlindKeys is not empty")
	}
	if s := fmt.Sprint(nilKeys); s != "<nil>" {
		t.Fatalf("nil BlindKeys prints %q", s)
	}
	if _, ok, err := nilKeys.Seal(strings.Repeat("ab", 32), anp.CredentialScope{Session: anp.NewSessionID(), BuyerKey: strings.Repeat("ab", 32), Domain: "shop.anp"}); ok || err != nil {
		t.Fatalf("nil BlindKeys sealed: ok=%v err=%v", ok, err)
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// sellerKey returns the blind-credential key of a fresh seller identity.
func sellerKey(t testing.TB) *anp.CredentialKey {
	t.Helper()
	k, err := anp.DeriveCredentialKey(mustIdentity(t))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBlindKeysSealOpensOnTheSellerSide(t *testing.T) {
	b := testBlindKeys(t)
	seller := sellerKey(t)
	session := anp.NewSessionID()
	buyerKey := anp.PublicKeyHex(mustIdentity(t).Public().(ed25519.PublicKey))
	scope := func(domain string) anp.CredentialScope {
		return anp.CredentialScope{Session: session, BuyerKey: buyerKey, Domain: domain}
	}
	for _, tc := range []struct{ asked, domain, cred string }{
		{"shop.anp", "shop.anp", credShop},
		{"SHOP.anp", "shop.anp", credShop},
		{"kitchen-outlet.anp", "kitchen-outlet.anp", credOutlet},
	} {
		sealed, ok, err := b.Seal(seller.PublicHex(), scope(tc.asked))
		if err != nil || !ok {
			t.Fatalf("Seal(%s): ok=%v err=%v", tc.asked, ok, err)
		}
		if strings.Contains(sealed, tc.cred) {
			t.Fatal("sealed value contains the credential in clear")
		}
		got, err := anp.OpenCredential(seller, sealed, scope(tc.domain))
		if err != nil || got != tc.cred {
			t.Fatalf("seller opened %q, %v", got, err)
		}
	}
	// Another seller cannot open it.
	sealed, _, _ := b.Seal(seller.PublicHex(), scope("shop.anp"))
	if _, err := anp.OpenCredential(sellerKey(t), sealed, scope("shop.anp")); err == nil {
		t.Fatal("another seller opened the sealed credential")
	}
	if sealed, ok, err := b.Seal(seller.PublicHex(), scope("unknown.anp")); ok || err != nil || sealed != "" {
		t.Fatalf("unknown domain: %q ok=%v err=%v", sealed, ok, err)
	}
	// A bad seller key is an error that names the domain, never the credential.
	_, ok, err := b.Seal(strings.Repeat("zz", 32), scope("shop.anp"))
	if !ok || err == nil || strings.Contains(err.Error(), credShop) {
		t.Fatalf("bad seller key: ok=%v err=%v", ok, err)
	}
}

// TestCredentialsAreRedactable: every credential the protocol accepts is
// long enough for a Redactor to scrub.
func TestCredentialsAreRedactable(t *testing.T) {
	if anp.MinCredentialLen < MinSecretLen {
		t.Fatalf("anp.MinCredentialLen %d is below MinSecretLen %d", anp.MinCredentialLen, MinSecretLen)
	}
}
