package secrets

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func FuzzLoadIdentityHex(f *testing.F) {
	seed := bytes.Repeat([]byte{0x42}, ed25519.SeedSize)
	key := ed25519.NewKeyFromSeed(seed)
	for _, s := range []string{
		hex.EncodeToString(seed), hex.EncodeToString(key), " " + strings.ToUpper(hex.EncodeToString(seed)) + "\n",
		"", "zz", hex.EncodeToString(key)[:127] + "g", hex.EncodeToString(seed) + hex.EncodeToString(seed),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := LoadIdentityHex(s)
		if err != nil {
			if k != nil {
				t.Fatal("key returned with an error")
			}
			return
		}
		if err := checkPrivateKey(k); err != nil {
			t.Fatalf("accepted an unusable key: %v", err)
		}
		trimmed := strings.ToLower(strings.TrimSpace(s))
		if !strings.HasPrefix(trimmed, hex.EncodeToString(k.Seed())) {
			t.Fatal("parsed seed does not match the input")
		}
		if len(trimmed) == 128 && trimmed != hex.EncodeToString(k) {
			t.Fatal("accepted a public half that does not match")
		}
	})
}

func FuzzParseBlindKeys(f *testing.F) {
	for _, s := range []string{
		`{"shop.anp":"abcdefgh","Kitchen-Outlet.anp":"ijklmnop"}`, `{}`, `{"shop.anp":"a\"b\\c\u00e9xx"}`,
		`{"shop.anp":1}`, `{"shop.anp":"abcdefgh","SHOP.anp":"ijklmnop"}`, `[]`, `{"a":"b"} x`, `{"shop.anp":"abcdefgh"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBlindKeys(data)
		if err != nil {
			if b != nil {
				t.Fatal("keys returned with an error")
			}
			return
		}
		domains, values := b.Domains(), b.Values()
		if len(domains) != len(values) || len(domains) != b.Len() {
			t.Fatalf("%d domains, %d values", len(domains), len(values))
		}
		joined := strings.Join(domains, " ")
		out := b.String()
		for i, d := range domains {
			if err := anp.ValidateDomain(d); err != nil {
				t.Fatalf("accepted domain %q: %v", d, err)
			}
			if !b.Has(d) {
				t.Fatalf("Has(%q) = false", d)
			}
			if err := anp.ValidateCredential(values[i]); err != nil {
				t.Fatalf("accepted credential: %v", err)
			}
			if v := values[i]; !strings.Contains("BlindKeys{domains: ["+joined+"]}", v) && strings.Contains(out, v) {
				t.Fatalf("String() %q shows a credential", out)
			}
		}
	})
}

func FuzzRedactorString(f *testing.F) {
	f.Add("token abcdef-123 and abcdef", "abcdef-123", "abcdef", 5)
	f.Add("a\nline-one\nline-two\n", "line-one\nline-two", "zzzzzz", 3)
	f.Add(`{"k":"pa\"ss\\wd"}`, `pa"ss\wd`, "xxxxxx", 9)
	f.Add("abcdefghi", "abcdef", "defghi", 4)
	f.Fuzz(func(t *testing.T, text, s1, s2 string, split int) {
		r := NewRedactor(s1, s2)
		got := r.String(text)
		for _, s := range []string{s1, s2} {
			if len(s) < MinSecretLen || strings.ContainsAny(s, "[]") || strings.Contains(Redacted, s) {
				continue // too short to redact, or could be formed by the marker itself
			}
			if strings.Contains(got, s) {
				t.Fatalf("String(%q) = %q still contains %q", text, got, s)
			}
		}
		// The line-buffered writer gives the same result for any split.
		split = int(uint(split) % uint(len(text)+1))
		var out bytes.Buffer
		w := r.Writer(&out)
		w.Write([]byte(text[:split]))
		w.Write([]byte(text[split:]))
		w.(interface{ Flush() error }).Flush()
		if out.String() != got {
			t.Fatalf("writer split at %d gave %q, String gave %q", split, out.String(), got)
		}
	})
}
