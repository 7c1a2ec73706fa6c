package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// referencePipeline is what Verify did with crypto/ed25519: the key, then
// anp.CheckSignature, then ed25519.Verify.
func referencePipeline(pub, msg, sig []byte) error {
	if _, err := anp.ParsePublicKey(hex.EncodeToString(pub)); err != nil {
		return err
	}
	if err := anp.CheckSignature(sig); err != nil {
		return err
	}
	if !ed25519.Verify(pub, msg, sig) {
		return anp.ErrBadSignature
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkSameVerdicts fails when the verifier and crypto/ed25519 disagree on
// the equation, or the anp pipeline and the reference one on the error.
func checkSameVerdicts(t *testing.T, pub, msg, sig []byte) {
	t.Helper()
	if got, want := anp.VerifyEquation(pub, msg, sig), ed25519.Verify(pub, msg, sig); got != want {
		t.Fatalf("pub %x msg %x sig %x: verifyEd25519 %v, crypto/ed25519 %v", pub, msg, sig, got, want)
	}
	if len(sig) != ed25519.SignatureSize {
		return
	}
	if got, want := errText(anp.VerifySigningInput(hex.EncodeToString(pub), msg, hex.EncodeToString(sig))), errText(referencePipeline(pub, msg, sig)); got != want {
		t.Fatalf("pub %x msg %x sig %x: anp %q, reference %q", pub, msg, sig, got, want)
	}
}

// groupOrderLE is L, little-endian.
var groupOrderLE = [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 31: 0x10}

// addL returns S + L (little-endian, without the carry out of 256 bits).
func addL(s []byte) []byte {
	out := make([]byte, 32)
	carry := 0
	for i := range out {
		v := int(s[i]) + int(groupOrderLE[i]) + carry
		out[i], carry = byte(v), v>>8
	}
	return out
}

// oddPoints are encodings a key or R may take: small order,
// non-canonical, not on the curve.
var oddPoints = func() []string {
	out := []string{"0200000000000000000000000000000000000000000000000000000000000000"}
	for _, e := range smallOrderEncodings {
		out = append(out, e.hex)
	}
	return out
}()

// mutateSignature builds the case of the fuzz target: a signature by the
// key of seed over msg, then changed as mode says.
func mutateSignature(tb testing.TB, seed, msg, extra []byte, mode, pos uint8) (pub, m, sig []byte) {
	var s [32]byte
	copy(s[:], seed)
	key := ed25519.NewKeyFromSeed(s[:])
	pub, m = key.Public().(ed25519.PublicKey), msg
	sig = ed25519.Sign(key, msg)
	odd, _ := hex.DecodeString(oddPoints[int(pos)%len(oddPoints)])
	switch mode % 10 {
	case 1:
		sig[int(pos)%64] ^= 1 << (pos % 8)
	case 2:
		copy(sig[32:], addL(sig[32:]))
	case 3:
		copy(sig[:32], odd)
	case 4:
		pub = odd
	case 5:
		pub = make([]byte, 32)
		copy(pub, extra)
	case 6:
		sig = extra
	case 7:
		m = append(append([]byte(nil), msg...), byte(pos))
	case 8:
		// The identity key with R = identity and S = 0 verifies under
		// crypto/ed25519 for any message; a small-order R with S = 0 the same.
		pub, sig = odd, make([]byte, 64)
		copy(sig, odd)
	case 9:
		sig = identityRSignature(tb, key, msg)
	}
	return pub, m, sig
}

// FuzzVerifyEd25519 holds the verifier with a remembered −A to
// crypto/ed25519.Verify on keys, messages and signatures that verify, are
// mutated, carry S+L, a small-order or non-canonical R or A, or are raw
// bytes; and the anp pipeline to the reference one, error for error.
func FuzzVerifyEd25519(f *testing.F) {
	for mode := range uint8(10) {
		for _, pos := range []uint8{0, 3, 7, 12, 31, 40, 63} {
			f.Add([]byte{mode, pos}, []byte("clinch"), []byte{pos}, mode, pos)
		}
	}
	f.Fuzz(func(t *testing.T, seed, msg, extra []byte, mode, pos uint8) {
		pub, m, sig := mutateSignature(t, seed, msg, extra, mode, pos)
		checkSameVerdicts(t, pub, m, sig)
	})
}

// TestVerifyEd25519RFC8032 checks the verifier on the test vectors of RFC
// 8032 §7.1 (TEST 1, 2 and 3), and on each with a bit of the signature,
// the key or the message flipped.
func TestVerifyEd25519RFC8032(t *testing.T) {
	for _, v := range []struct{ secret, public, msg, sig string }{
		{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
		{"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
			"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
	} {
		seed, _ := hex.DecodeString(v.secret)
		pub, _ := hex.DecodeString(v.public)
		msg, _ := hex.DecodeString(v.msg)
		sig, _ := hex.DecodeString(v.sig)
		key := ed25519.NewKeyFromSeed(seed)
		if !bytes.Equal(key.Public().(ed25519.PublicKey), pub) || !bytes.Equal(ed25519.Sign(key, msg), sig) {
			t.Fatalf("vector %s: crypto/ed25519 does not reproduce it", v.public)
		}
		if !anp.VerifyEquation(pub, msg, sig) || anp.VerifySigningInput(hex.EncodeToString(pub), msg, hex.EncodeToString(sig)) != nil {
			t.Fatalf("vector %s refused: %v", v.public, anp.VerifySigningInput(hex.EncodeToString(pub), msg, hex.EncodeToString(sig)))
		}
		for bit := range 8 * (len(pub) + len(sig)) {
			p, s := bytes.Clone(pub), bytes.Clone(sig)
			if bit < 8*len(p) {
				p[bit/8] ^= 1 << (bit % 8)
			} else {
				s[bit/8-len(p)] ^= 1 << (bit % 8)
			}
			checkSameVerdicts(t, p, msg, s)
			if anp.VerifyEquation(p, msg, s) {
				t.Fatalf("vector %s with bit %d flipped verifies", v.public, bit)
			}
		}
		checkSameVerdicts(t, pub, append(bytes.Clone(msg), 0), sig)
	}
}

// TestVerifyEd25519Hazards: S+L, and a small-order R that makes the
// equation hold, are refused by the anp pipeline with the reference's
// class, though crypto/ed25519 accepts the second.
func TestVerifyEd25519Hazards(t *testing.T) {
	seen := map[string]bool{}
	for pos := range uint8(len(oddPoints)) {
		for _, mode := range []uint8{2, 3, 4, 8, 9} {
			pub, msg, sig := mutateSignature(t, []byte("seed"), []byte("m"), nil, mode, pos)
			checkSameVerdicts(t, pub, msg, sig)
			err := anp.VerifySigningInput(hex.EncodeToString(pub), msg, hex.EncodeToString(sig))
			if err == nil {
				t.Fatalf("mode %d, point %s: accepted", mode, oddPoints[pos])
			}
			seen[errText(err)] = true
		}
	}
	// The identity key, R = identity, S = 0: crypto/ed25519 accepts it.
	identity := slices.Index(oddPoints, "0100000000000000000000000000000000000000000000000000000000000000")
	pub, msg, sig := mutateSignature(t, nil, []byte("m"), nil, 8, uint8(identity))
	if !ed25519.Verify(pub, msg, sig) || !anp.VerifyEquation(pub, msg, sig) {
		t.Fatal("the identity forgery does not verify under the equation: the test shows nothing")
	}
	pub, msg, sig = mutateSignature(t, []byte("seed"), []byte("m"), nil, 9, 0)
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("the signature with R the identity does not verify under crypto/ed25519")
	}
	if err := anp.VerifySigningInput(hex.EncodeToString(pub), msg, hex.EncodeToString(sig)); !errors.Is(err, anp.ErrSignatureRSmallOrder) {
		t.Fatalf("R the identity: %v, want %v", err, anp.ErrSignatureRSmallOrder)
	}
	if len(seen) < 4 {
		t.Fatalf("only %d kinds of refusal seen: %v", len(seen), seen)
	}
}

// BenchmarkVerifyEd25519 compares crypto/ed25519.Verify with the anp
// verification of a signing input (the key's −A remembered, R checked).
func BenchmarkVerifyEd25519(b *testing.B) {
	msg, err := anp.SigningInput(anp.PurposeEnvelope, map[string]string{"note": "a signing input"})
	if err != nil {
		b.Fatal(err)
	}
	pk := buyerKey.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(buyerKey, msg)
	pubHex, sigHex := hex.EncodeToString(pk), hex.EncodeToString(sig)
	b.Run("crypto-ed25519", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(pk, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("anp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := anp.VerifySigningInput(pubHex, msg, sigHex); err != nil {
				b.Fatal(err)
			}
		}
	})
}
