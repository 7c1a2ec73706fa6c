package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/nacl/box"

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
		"too long":             {"shop.anp": strings.Repeat("x", MaxCredentialBytes+1)},
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
	if _, ok, err := nilKeys.Seal(strings.Repeat("ab", 32), anp.NewSessionID(), "shop.anp"); ok || err != nil {
		t.Fatalf("nil BlindKeys sealed: ok=%v err=%v", ok, err)
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// sellerKeys returns a seller's X25519 key pair as the seller would publish it.
func sellerKeys(t testing.TB) (pubHex string, pub, priv *[32]byte) {
	t.Helper()
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(pub[:]), pub, priv
}

// openSealed is the seller side of the sealed credential format.
func openSealed(t *testing.T, sealed string, pub, priv *[32]byte) (raw []byte, c sealedCredential) {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		t.Fatalf("sealed credential is not standard base64: %v", err)
	}
	raw, ok := box.OpenAnonymous(nil, ct, pub, priv)
	if !ok {
		t.Fatal("seller cannot open the sealed credential")
	}
	if err := anp.DecodeStrict(raw, &c); err != nil {
		t.Fatalf("opened credential: %v", err)
	}
	return raw, c
}

func TestBlindKeysSealOpensOnTheSellerSide(t *testing.T) {
	b := testBlindKeys(t)
	encHex, pub, priv := sellerKeys(t)
	session := anp.NewSessionID()
	for _, tc := range []struct{ asked, domain, cred string }{
		{"shop.anp", "shop.anp", credShop},
		{"SHOP.anp", "shop.anp", credShop},
		{"kitchen-outlet.anp", "kitchen-outlet.anp", credOutlet},
	} {
		sealed, ok, err := b.Seal(encHex, session, tc.asked)
		if err != nil || !ok {
			t.Fatalf("Seal(%s): ok=%v err=%v", tc.asked, ok, err)
		}
		if strings.Contains(sealed, tc.cred) {
			t.Fatal("sealed value contains the credential in clear")
		}
		raw, c := openSealed(t, sealed, pub, priv)
		want := sealedCredential{Credential: tc.cred, Domain: tc.domain, Session: session}
		if c != want {
			t.Fatalf("opened %+v, want %+v", c, want)
		}
		canon, err := anp.Canonical(map[string]string{"session": session, "domain": tc.domain, "credential": tc.cred})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, canon) {
			t.Fatalf("plaintext %s is not the JCS bytes %s", raw, canon)
		}
		if len(sealed) > 4096 {
			t.Fatalf("sealed credential is %d bytes", len(sealed))
		}
	}
	// Each seal uses a fresh ephemeral key.
	s1, _, _ := b.Seal(encHex, session, "shop.anp")
	s2, _, _ := b.Seal(encHex, session, "shop.anp")
	if s1 == s2 {
		t.Fatal("two seals are identical")
	}
	// Another seller cannot open it.
	_, otherPub, otherPriv := sellerKeys(t)
	ct, _ := base64.StdEncoding.DecodeString(s1)
	if _, ok := box.OpenAnonymous(nil, ct, otherPub, otherPriv); ok {
		t.Fatal("another key opened the sealed credential")
	}
	if sealed, ok, err := b.Seal(encHex, session, "unknown.anp"); ok || err != nil || sealed != "" {
		t.Fatalf("unknown domain: %q ok=%v err=%v", sealed, ok, err)
	}
}

func TestSealCredentialWorstCaseFitsProposeBody(t *testing.T) {
	encHex, pub, priv := sellerKeys(t)
	cred := strings.Repeat(`"`, MaxCredentialBytes)
	domain := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	sealed, err := SealCredential(encHex, anp.NewSessionID(), domain, cred)
	if err != nil {
		t.Fatal(err)
	}
	body := anp.ProposeBody{Mode: anp.ModeC, Item: "kettle", Quantity: 1, Currency: "USD", Credential: sealed}
	if err := body.Validate(); err != nil {
		t.Fatalf("worst-case sealed credential (%d bytes) does not fit: %v", len(sealed), err)
	}
	if _, c := openSealed(t, sealed, pub, priv); c.Credential != cred || c.Domain != domain {
		t.Fatal("worst case does not round-trip")
	}
}

func TestSealCredentialRejects(t *testing.T) {
	encHex, _, _ := sellerKeys(t)
	session := anp.NewSessionID()
	const cred = "very-secret-credential"
	var zero [32]byte
	// A point of order 8 on Curve25519.
	lowOrder := "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"
	tests := []struct{ name, key, session, domain, cred string }{
		{"upper-case key", strings.ToUpper(encHex), session, "shop.anp", cred},
		{"short key", encHex[:62], session, "shop.anp", cred},
		{"non-hex key", "zz" + encHex[2:], session, "shop.anp", cred},
		{"zero key", hex.EncodeToString(zero[:]), session, "shop.anp", cred},
		{"low-order key", lowOrder, session, "shop.anp", cred},
		{"bad session", encHex, "not-a-session", "shop.anp", cred},
		{"upper-case session", encHex, strings.ToUpper(session), "shop.anp", cred},
		{"bad domain", encHex, session, "shop", cred},
		{"empty credential", encHex, session, "shop.anp", ""},
		{"credential with newline", encHex, session, "shop.anp", cred + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := SealCredential(tc.key, tc.session, tc.domain, tc.cred)
			if err == nil {
				t.Fatalf("sealed: %q", sealed)
			}
			if tc.cred != "" && strings.Contains(err.Error(), tc.cred) {
				t.Fatalf("error %q leaks the credential", err)
			}
		})
	}
}
