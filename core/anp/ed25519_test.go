package anp_test

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"filippo.io/edwards25519"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// smallOrderEncodings lists every 32-byte string that decodes (with the
// lenient decoding of crypto/ed25519) to one of the eight points of order
// 1, 2, 4 or 8: the eight canonical encodings, and six non-canonical ones
// (x = 0 with the sign bit set; y = p and y = p+1). The same list, with the
// sign bit masked, is libsodium's blocklist in crypto_core_ed25519_is_valid_point.
var smallOrderEncodings = []struct {
	hex       string
	canonical bool
}{
	{"0000000000000000000000000000000000000000000000000000000000000000", true},  // y = 0, order 4
	{"0000000000000000000000000000000000000000000000000000000000000080", true},  // y = 0, x negative, order 4
	{"0100000000000000000000000000000000000000000000000000000000000000", true},  // identity
	{"0100000000000000000000000000000000000000000000000000000000000080", false}, // identity, x = -0
	{"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", true},  // order 8
	{"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", true},  // order 8
	{"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", true},  // order 8
	{"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", true},  // order 8
	{"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", true},  // y = p-1, order 2
	{"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false}, // y = p-1, x = -0
	{"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false}, // y = p ≡ 0
	{"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false}, // y = p ≡ 0, x negative
	{"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false}, // y = p+1 ≡ 1
	{"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false}, // y = p+1 ≡ 1, x = -0
}

// groupOrder is L = 2^252 + 27742317777372353535851937790883648493.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// independentVerify is the second verifier: crypto/ed25519 plus the rules of
// protocol §3 written without the package (a literal list of small-order
// encodings, S compared with L as an integer).
func independentVerify(pk, msg, sig []byte) error {
	if len(pk) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return errors.New("bad length")
	}
	for _, e := range smallOrderEncodings {
		if hex.EncodeToString(pk) == e.hex {
			return errors.New("public key of small order")
		}
		if hex.EncodeToString(sig[:32]) == e.hex {
			return errors.New("R of small order")
		}
	}
	le := make([]byte, 32)
	for i := range le {
		le[i] = sig[63-i]
	}
	if new(big.Int).SetBytes(le).Cmp(groupOrder) >= 0 {
		return errors.New("S not below L")
	}
	if !ed25519.Verify(pk, msg, sig) {
		return errors.New("does not verify")
	}
	return nil
}

// TestSmallOrderKeysRefused checks every small-order encoding as a key and
// as R, and that crypto/ed25519 alone accepts the identity forgery.
func TestSmallOrderKeysRefused(t *testing.T) {
	msg := []byte("any message at all")
	identitySig := make([]byte, 64)
	identitySig[0] = 1 // R = identity, S = 0
	idKey, _ := hex.DecodeString(smallOrderEncodings[2].hex)
	if !ed25519.Verify(idKey, msg, identitySig) {
		t.Fatal("crypto/ed25519 refuses the identity forgery: the test no longer shows the hazard")
	}
	for _, e := range smallOrderEncodings {
		want := anp.ErrKeySmallOrder
		if !e.canonical {
			want = anp.ErrKeyNonCanonical
		}
		if _, err := anp.ParsePublicKey(e.hex); !errors.Is(err, want) {
			t.Errorf("ParsePublicKey(%s): %v, want %v", e.hex, err, want)
		}
		if err := anp.Verify(e.hex, anp.PurposeEnvelope, map[string]string{"a": "b"}, hex.EncodeToString(identitySig)); !errors.Is(err, want) {
			t.Errorf("Verify with key %s: %v, want %v", e.hex, err, want)
		}
		sig := make([]byte, 64)
		r, _ := hex.DecodeString(e.hex)
		copy(sig, r)
		wantR := anp.ErrSignatureRSmallOrder
		if !e.canonical {
			wantR = anp.ErrSignatureRInvalid
		}
		if err := anp.CheckSignature(sig); !errors.Is(err, wantR) {
			t.Errorf("CheckSignature(R = %s): %v, want %v", e.hex, err, wantR)
		}
	}
}

func TestParsePublicKeyClasses(t *testing.T) {
	tests := []struct {
		name, key string
		want      error
	}{
		{"seller key", pub(sellerKey), nil},
		{"buyer key", pub(buyerKey), nil},
		{"upper case", strings.ToUpper(pub(sellerKey)), anp.ErrKeyFormat},
		{"short", pub(sellerKey)[:62], anp.ErrKeyFormat},
		{"long", pub(sellerKey) + "00", anp.ErrKeyFormat},
		{"empty", "", anp.ErrKeyFormat},
		{"not a point (y = 2)", "0200000000000000000000000000000000000000000000000000000000000000", anp.ErrKeyNotOnCurve},
		{"identity", "0100000000000000000000000000000000000000000000000000000000000000", anp.ErrKeySmallOrder},
		{"identity, y = p+1", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", anp.ErrKeyNonCanonical},
		{"order 8", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", anp.ErrKeySmallOrder},
	}
	for _, tt := range tests {
		_, err := anp.ParsePublicKey(tt.key)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: ParsePublicKey(%q): %v, want %v", tt.name, tt.key, err, tt.want)
		}
	}
}

// refusedSig is a signature vector that a verifier MUST refuse; expect names
// the rejection class.
type refusedSig struct {
	Description     string          `json:"description"`
	Purpose         anp.Purpose     `json:"purpose"`
	PublicKey       string          `json:"public_key"`
	Input           json.RawMessage `json:"input"`
	SigningInputHex string          `json:"signing_input_hex_refused"`
	Signature       string          `json:"signature"`
	Expect          string          `json:"expect"`
}

// sigClasses names each rejection class of keys and signatures in the vectors.
var sigClasses = map[string]error{
	"public_key_small_order":    anp.ErrKeySmallOrder,
	"public_key_non_canonical":  anp.ErrKeyNonCanonical,
	"public_key_not_on_curve":   anp.ErrKeyNotOnCurve,
	"signature_r_small_order":   anp.ErrSignatureRSmallOrder,
	"signature_r_invalid":       anp.ErrSignatureRInvalid,
	"signature_s_non_canonical": anp.ErrSignatureSNonCanonical,
}

// identityRSignature returns (R, S) with R = identity and S = k·a, the signature that satisfies the
// cofactorless equation [S]B = R + [k]A for R = identity and the key's a.
func identityRSignature(tb testing.TB, key ed25519.PrivateKey, msg []byte) []byte {
	tb.Helper()
	h := sha512.Sum512(key.Seed())
	a, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		tb.Fatal(err)
	}
	r := edwards25519.NewIdentityPoint().Bytes()
	kh := sha512.New()
	kh.Write(r)
	kh.Write(key.Public().(ed25519.PublicKey))
	kh.Write(msg)
	k, err := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	if err != nil {
		tb.Fatal(err)
	}
	return append(r, edwards25519.NewScalar().Multiply(k, a).Bytes()...)
}

func refusedSignatures(tb testing.TB) []refusedSig {
	tb.Helper()
	value := map[string]string{"note": "any value: a small-order key verifies every message"}
	msg, err := anp.SigningInput(anp.PurposeEnvelope, value)
	if err != nil {
		tb.Fatal(err)
	}
	in := func(desc, key string, sig []byte, expect string) refusedSig {
		return refusedSig{Description: desc, Purpose: anp.PurposeEnvelope, PublicKey: key, Input: mustCanonical(tb, value),
			SigningInputHex: hex.EncodeToString(msg), Signature: hex.EncodeToString(sig), Expect: expect}
	}
	identitySig := make([]byte, 64)
	identitySig[0] = 1
	good := ed25519.Sign(sellerKey, msg)
	// S + L: the same point equation, S not reduced.
	s := make([]byte, 32)
	for i := range s {
		s[i] = good[63-i]
	}
	sPlusL := new(big.Int).Add(new(big.Int).SetBytes(s), groupOrder).FillBytes(make([]byte, 32))
	nonCanonicalS := append([]byte{}, good[:32]...)
	for i := range 32 {
		nonCanonicalS = append(nonCanonicalS, sPlusL[31-i])
	}
	return []refusedSig{
		in("identity public key, R = identity, S = 0: crypto/ed25519 accepts it for every message", "0100000000000000000000000000000000000000000000000000000000000000", identitySig, "public_key_small_order"),
		in("identity public key in a non-canonical encoding (y = p+1), R = identity, S = 0", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", identitySig, "public_key_non_canonical"),
		in("seller key, R = identity and S = k·a: satisfies [S]B = R + [k]A, crypto/ed25519 accepts it", pub(sellerKey), identityRSignature(tb, sellerKey, msg), "signature_r_small_order"),
		in("seller key, a valid signature with L added to S", pub(sellerKey), nonCanonicalS, "signature_s_non_canonical"),
	}
}

func addRefusedSignatureVectors(tb testing.TB, files map[string][]byte) {
	files["signatures_refused.json"] = encodeVector(tb, struct {
		Description string       `json:"description"`
		Vectors     []refusedSig `json:"vectors"`
	}{
		Description: "Ed25519 keys and signatures a verifier MUST refuse (protocol §3); expect names the rejection class. signing_input_hex_refused is \"clinch-anp/1\" 0x00 purpose 0x00 JCS(input).",
		Vectors:     refusedSignatures(tb),
	})
}

// TestRefusedSignatureVectors runs signatures_refused.json against both
// verifiers: anp.Verify must refuse with the named class, the independent
// verifier must refuse too.
func TestRefusedSignatureVectors(t *testing.T) {
	var f struct {
		Description string       `json:"description"`
		Vectors     []refusedSig `json:"vectors"`
	}
	readVector(t, "signatures_refused.json", &f)
	seen := map[string]bool{}
	for _, v := range f.Vectors {
		seen[v.Expect] = true
		class, ok := sigClasses[v.Expect]
		if !ok {
			t.Errorf("%s: unknown expect %q", v.Description, v.Expect)
			continue
		}
		var input any
		if err := anp.DecodeStrict(v.Input, &input); err != nil {
			t.Fatal(err)
		}
		if err := anp.Verify(v.PublicKey, v.Purpose, input, v.Signature); !errors.Is(err, class) {
			t.Errorf("%s: anp.Verify: %v, want %s", v.Description, err, v.Expect)
		}
		pk, _ := hex.DecodeString(v.PublicKey)
		sig, _ := hex.DecodeString(v.Signature)
		msg, _ := hex.DecodeString(v.SigningInputHex)
		if hazard := v.Expect == "public_key_small_order" || v.Expect == "signature_r_small_order"; hazard && !ed25519.Verify(pk, msg, sig) {
			t.Errorf("%s: crypto/ed25519 alone refuses it; the vector no longer shows the hazard", v.Description)
		}
		if err := independentVerify(pk, msg, sig); err == nil {
			t.Errorf("%s: the independent verifier accepts it", v.Description)
		}
	}
	for _, want := range []string{"public_key_small_order", "signature_r_small_order", "signature_s_non_canonical"} {
		if !seen[want] {
			t.Errorf("signatures_refused.json has no %s vector", want)
		}
	}
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add(pub(sellerKey))
	for _, e := range smallOrderEncodings {
		f.Add(e.hex)
	}
	f.Add("0200000000000000000000000000000000000000000000000000000000000000")
	f.Add(strings.ToUpper(pub(buyerKey)))
	f.Fuzz(func(t *testing.T, s string) {
		pk, err := anp.ParsePublicKey(s)
		if err != nil {
			for _, class := range []error{anp.ErrKeyFormat, anp.ErrKeyNotOnCurve, anp.ErrKeyNonCanonical, anp.ErrKeySmallOrder} {
				if errors.Is(err, class) {
					return
				}
			}
			t.Fatalf("ParsePublicKey(%q): %v wraps no rejection class", s, err)
		}
		if hex.EncodeToString(pk) != s {
			t.Fatalf("ParsePublicKey(%q) = %x", s, pk)
		}
		p, err := new(edwards25519.Point).SetBytes(pk)
		if err != nil || hex.EncodeToString(p.Bytes()) != s {
			t.Fatalf("ParsePublicKey(%q) accepted a non-canonical or off-curve encoding", s)
		}
		for _, e := range smallOrderEncodings {
			if e.hex == s {
				t.Fatalf("ParsePublicKey(%q) accepted a small-order key", s)
			}
		}
	})
}
