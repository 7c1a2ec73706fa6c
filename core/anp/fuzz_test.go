package anp_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"ANP/C.kitchen-outlet.anp", "ANP/A.Shop.Example", "ANP/B.a.b.c.d", "ANP/C.shop.123", "ANP/C.-x.anp",
		"ANP/C.", "ANP/", "anp/c.x.y", "ANP/C..x", "ANP/C.x_y.anp", "ANP/D.x.anp", "ANP/C.küche.anp",
		"ANP/C." + strings.Repeat("a", 64) + ".anp", "ANP/C." + strings.Repeat("ab.", 90) + "z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := anp.ParseAddress(s)
		if err != nil {
			if a != (anp.Address{}) {
				t.Fatalf("error %v with address %+v", err, a)
			}
			return
		}
		if !a.Mode.Valid() || anp.ValidateDomain(a.Domain) != nil {
			t.Fatalf("accepted invalid address %+v", a)
		}
		// The canonical form is the input with ASCII letters of the domain
		// folded, byte for byte.
		mode, domain, _ := strings.Cut(s, ".")
		if want := mode + "." + asciiLower(domain); a.String() != want {
			t.Fatalf("ParseAddress(%q) = %q, want %q", s, a.String(), want)
		}
		again, err := anp.ParseAddress(a.String())
		if err != nil || again != a {
			t.Fatalf("canonical form %q does not parse back: %+v, %v", a.String(), again, err)
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// vectorSeeds returns the "signed" envelopes of the envelope vectors.
func vectorSeeds(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, m := range anp.MsgTypes {
		data, err := os.ReadFile(filepath.Join(vectorDir, "envelope_"+strings.ToLower(string(m))+".json"))
		if err != nil {
			f.Fatal(err)
		}
		var v sigVector
		if err := json.Unmarshal(data, &v); err != nil {
			f.Fatal(err)
		}
		out = append(out, v.Signed)
	}
	return out
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range vectorSeeds(f) {
		f.Add(s)
		f.Add(bytes.ReplaceAll(s, []byte(`"seq":`), []byte(`"Seq":`)))
		f.Add(append(append([]byte(nil), s...), []byte(" {}")...))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"v":1,"type":"PROPOSE","session":"0123456789abcdef0123456789abcdef","seq":1,"prev":"","from":"00","to":"x","ts":0,"exp":1,"nonce":"","body":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := anp.DecodeEnvelope(data)
		if err != nil {
			if anp.CodeOf(err) == "" {
				t.Fatalf("error without a protocol code: %v", err)
			}
			return
		}
		sigErr := e.VerifySignature()
		_ = e.CheckTime(time.UnixMilli(e.TS))
		var tr anp.Transcript
		if _, err := tr.Check(e, anp.Expect{Session: e.Session, From: e.From, To: e.To, Now: time.UnixMilli(e.TS)}); err == nil && sigErr != nil {
			t.Fatalf("Check accepted an envelope whose signature fails: %v", sigErr)
		}
		if err := tr.Append(e, anp.Expect{Session: e.Session, Now: time.UnixMilli(e.TS)}); err == nil {
			if _, err := anp.VerifyChain(tr.Envelopes); err != nil {
				t.Fatalf("appended envelope fails VerifyChain: %v", err)
			}
		}
		_, _ = e.Hash()
		// A decodable envelope re-encodes to something that decodes equal.
		re, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if len(re) > anp.MaxEnvelopeBytes {
			return // escaping can grow the encoding past the cap
		}
		e2, err := anp.DecodeEnvelope(re)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v\n%s", err, re)
		}
		re2, _ := json.Marshal(e2)
		if !bytes.Equal(re, re2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", re, re2)
		}
		c1, c2 := *e, *e2
		c1.Body, c2.Body = nil, nil
		if !reflect.DeepEqual(c1, c2) {
			t.Fatalf("fields changed in a round trip: %+v vs %+v", c1, c2)
		}
		if (e2.VerifySignature() == nil) != (sigErr == nil) {
			t.Fatalf("signature outcome changed in a round trip: %v", sigErr)
		}
	})
}

// artifactSeed returns the vector artifact's JSON.
func artifactSeed(f testing.TB) []byte {
	f.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, "artifact.json"))
	if err != nil {
		f.Fatal(err)
	}
	var v struct {
		Artifact json.RawMessage `json:"artifact"`
		RootKey  string          `json:"root_key"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		f.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, v.Artifact); err != nil {
		f.Fatal(err)
	}
	return compact.Bytes()
}

func FuzzVerifyArtifact(f *testing.F) {
	seed := artifactSeed(f)
	var original anp.Artifact
	if err := anp.DecodeStrict(seed, &original); err != nil {
		f.Fatal(err)
	}
	if err := anp.VerifyArtifact(&original, anp.VerifyOptions{RootKey: pub(rootKey)}); err != nil {
		f.Fatalf("seed artifact does not verify: %v", err)
	}
	signed, err := original.LeafData()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	var indented bytes.Buffer
	_ = json.Indent(&indented, seed, "", " ")
	f.Add(indented.Bytes())
	f.Add(bytes.Replace(seed, []byte(`"amount":8500`), []byte(`"amount":8400`), 1))
	f.Add(bytes.Replace(seed, []byte(`"leaf_index":5`), []byte(`"leaf_index":4`), 1))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a anp.Artifact
		if err := anp.DecodeStrict(data, &a); err != nil {
			return
		}
		err := anp.VerifyArtifact(&a, anp.VerifyOptions{RootKey: pub(rootKey)})
		_ = anp.VerifyArtifact(&a, anp.VerifyOptions{})
		if err != nil {
			if anp.CodeOf(err) == "" {
				t.Fatalf("error without a protocol code: %v", err)
			}
			return
		}
		// Only the seed's signed content can verify: everything but the
		// receipt (which is proof material) must be canonically identical.
		got, lerr := a.LeafData()
		if lerr != nil || !bytes.Equal(got, signed) {
			t.Fatalf("a different artifact verified:\n%s", data)
		}
	})
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range [][2]string{
		{"85", "USD"}, {"85.50", "USD"}, {"0.001", "KWD"}, {"1.5", "JPY"}, {"10000000000000.00", "USD"},
		{"99999999999999999999", "USD"}, {"-1", "USD"}, {"1e3", "USD"}, {" 7 ", "EUR"}, {"1.", "USD"}, {"", "usd"},
		{"1.234", "IQD"}, {"85", "MRO"}, {"1", "XAU"}, {"85\n", "USD"}, {"1.0000", "CLF"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, text, code string) {
		m, err := anp.ParseMoney(text, code)
		if err != nil {
			if m != (anp.Money{}) {
				t.Fatalf("error %v with %+v", err, m)
			}
			for _, class := range moneyClasses {
				if errors.Is(err, class) {
					return
				}
			}
			t.Fatalf("ParseMoney(%q, %q): %v wraps no rejection class", text, code, err)
		}
		if strings.ContainsFunc(text+code, func(r rune) bool { return !(r == '.' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') }) {
			t.Fatalf("ParseMoney(%q, %q) accepted a character outside digits, '.' and A-Z", text, code)
		}
		if m.Currency != code || m.Validate() != nil {
			t.Fatalf("ParseMoney(%q, %q) = %+v, invalid: %v", text, code, m, m.Validate())
		}
		scale, _ := anp.CurrencyScale(code)
		again, err := anp.ParseMoney(anp.FormatAmount(m.Amount, scale), code)
		if err != nil || again != m {
			t.Fatalf("%+v formats to %q which parses to %+v, %v", m, anp.FormatAmount(m.Amount, scale), again, err)
		}
		// The amount is exactly the decimal text, digit for digit.
		whole, frac, _ := strings.Cut(text, ".")
		want := strings.TrimLeft(whole+frac+strings.Repeat("0", scale-len(frac)), "0")
		if got := strings.TrimLeft(strings.Replace(anp.FormatAmount(m.Amount, scale), ".", "", 1), "0"); got != want {
			t.Fatalf("ParseMoney(%q, %q) = %d minor units", text, code, m.Amount)
		}
	})
}

func FuzzParseToken(f *testing.F) {
	claims := tokenClaims()
	tok, err := anp.IssueToken(claims, anp.Signer(notaryKey))
	if err != nil {
		f.Fatal(err)
	}
	body, sig, _ := strings.Cut(tok, ".")
	f.Add(tok)
	f.Add(body + "." + strings.Repeat("0", 128))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","iat":1,"exp":99999999999999,"kid":0,"jti":"j"}`)) + "." + sig)
	f.Add("x.y")
	f.Add("")
	now := t0.Add(time.Minute)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := anp.ParseToken(s, now, chainKeys)
		if err != nil {
			if c != nil || anp.CodeOf(err) != anp.CodeUnauthorized {
				t.Fatalf("refusal %v returned %+v", err, c)
			}
			return
		}
		// Only the fixture claims are signed; anything else is a forgery.
		if *c != claims {
			t.Fatalf("token %q accepted with claims %+v", s, c)
		}
	})
}

func FuzzDecodeStrict(f *testing.F) {
	for _, s := range vectorSeeds(f) {
		f.Add(s)
	}
	for _, s := range []string{
		`{"mode":"ANP/C","item":"x","quantity":1,"currency":"USD","terms":{}}`, `{"mode":"ANP/C","offer":null}`,
		`{"a":1}`, `{} {}`, `{}]`, `[]`, `"x"`, `{"ITEM":"x"}`, `{"item":"x","item":"y"}`, `{"quantity":1e2}`,
		`null`, `{"v":1,"prev":null}`, `{"sub":"x","kid":null}`, `{"mode":"ANP/C","terms":{"a":null}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newV := range []func() any{
			func() any { return new(anp.ProposeBody) },
			func() any { return new(anp.Envelope) },
			func() any { return new(anp.TokenClaims) },
		} {
			v := newV()
			if err := anp.DecodeStrict(data, v); err != nil {
				continue
			}
			if !json.Valid(data) {
				t.Fatalf("DecodeStrict accepted invalid JSON %q", data)
			}
			// No null: encoding/json would read it as a zero value.
			if hasNull(data) {
				t.Fatalf("DecodeStrict accepted %q, which holds a null", data)
			}
			// The standard decoder agrees (it is only less strict).
			w := newV()
			if err := json.Unmarshal(data, w); err != nil || !reflect.DeepEqual(v, w) {
				t.Fatalf("json.Unmarshal disagrees: %v\n%+v\n%+v", err, v, w)
			}
			// Re-encoding decodes strictly again, stably — unless it holds a
			// null: a required member missing from the input (an envelope
			// without a body) that json.Marshal writes as null.
			re, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			x := newV()
			if err := anp.DecodeStrict(re, x); err != nil {
				if hasNull(re) && errors.Is(err, anp.ErrNullMember) {
					continue
				}
				t.Fatalf("re-encoded %s does not decode: %v", re, err)
			}
			if re2, _ := json.Marshal(x); !bytes.Equal(re, re2) {
				t.Fatalf("unstable encoding:\n%s\n%s", re, re2)
			}
		}
	})
}

func FuzzOpenCredential(f *testing.F) {
	data, err := os.ReadFile(filepath.Join(vectorDir, "credential.json"))
	if err != nil {
		f.Fatal(err)
	}
	var v credentialVector
	if err := json.Unmarshal(data, &v); err != nil {
		f.Fatal(err)
	}
	f.Add(v.Sealed, v.Session, v.BuyerKey, v.Domain)
	for _, r := range v.Refused {
		f.Add(r.Sealed, r.Session, r.BuyerKey, r.Domain)
	}
	f.Add("", "", "", "")
	f.Add("AAAA", v.Session, v.BuyerKey, v.Domain)
	k := mustCredentialKey(f, sellerKey)
	f.Fuzz(func(t *testing.T, sealed, session, buyerKey, domain string) {
		got, err := anp.OpenCredential(k, sealed, anp.CredentialScope{Session: session, BuyerKey: buyerKey, Domain: domain})
		if err != nil {
			if anp.CodeOf(err) != anp.CodeRefused || got != "" {
				t.Fatalf("got %q, %v; want refused and nothing", got, err)
			}
			if strings.Contains(err.Error(), v.Credential) {
				t.Fatalf("error %q shows the credential", err)
			}
			return
		}
		// Only the vector's sealed value opens, and only for its session, buyer key and domain.
		if got != v.Credential || sealed != v.Sealed || session != v.Session || buyerKey != v.BuyerKey || domain != v.Domain {
			t.Fatalf("opened %q for session %q buyer key %q domain %q", got, session, buyerKey, domain)
		}
	})
}

// sealedSeeds returns the sealed value of a sealed vector file and its
// refused variants.
func sealedSeeds(f *testing.F, file string) (sealedVector, [][]byte) {
	f.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, file))
	if err != nil {
		f.Fatal(err)
	}
	var v sealedVector
	if err := json.Unmarshal(data, &v); err != nil {
		f.Fatal(err)
	}
	seeds := [][]byte{mustHex(f, "sealed_hex", v.SealedHex), {}, []byte(v.Magic)}
	for _, r := range v.Refused {
		seeds = append(seeds, mustHex(f, r.Description, r.SealedHex))
	}
	return v, seeds
}

func FuzzOpenExport(f *testing.F) {
	v, seeds := sealedSeeds(f, "export.json")
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sealed []byte) {
		got, err := anp.OpenExport(identityKey, sealed)
		if err != nil {
			if !errors.Is(err, anp.ErrCorruptExport) || got != nil {
				t.Fatalf("got %x, %v", got, err)
			}
			return
		}
		if hex.EncodeToString(sealed) != v.SealedHex || hex.EncodeToString(got) != v.PlaintextHex {
			t.Fatalf("opened a value that was never sealed: %x", sealed)
		}
	})
}

func FuzzOpenSecretBytes(f *testing.F) {
	v, seeds := sealedSeeds(f, "session_key.json")
	for _, s := range seeds {
		f.Add(s, v.Purpose)
	}
	f.Add(seeds[0], "session-key2")
	f.Add(seeds[0], "")
	f.Add(seeds[0], "session-key\x00")
	f.Fuzz(func(t *testing.T, sealed []byte, purpose string) {
		got, err := anp.OpenSecretBytes(identityKey, purpose, sealed)
		if err != nil {
			if got != nil {
				t.Fatalf("plaintext %x with error %v", got, err)
			}
			if purpose != "" && !strings.Contains(purpose, "\x00") && !errors.Is(err, anp.ErrCorruptSecret) {
				t.Fatalf("error %v is not ErrCorruptSecret", err)
			}
			return
		}
		if purpose != v.Purpose || hex.EncodeToString(sealed) != v.SealedHex || hex.EncodeToString(got) != v.PlaintextHex {
			t.Fatalf("opened a value that was never sealed for purpose %q: %x", purpose, sealed)
		}
	})
}
