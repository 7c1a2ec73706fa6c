package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Vectors of the wire rules that are not signatures: text cleaning,
// blind-credential sealing, and sealing under the identity key.

// credentialVector is one blind credential sealed to the seller of the
// fixtures, with every intermediate value, and sealed values the seller must
// refuse.
type credentialVector struct {
	Description        string              `json:"description"`
	Expect             string              `json:"expect"` // "valid": sealed opens to payload
	SellerIdentitySeed string              `json:"seller_identity_seed"`
	HKDFInfo           string              `json:"hkdf_info"`
	X25519Private      string              `json:"x25519_private"`
	EncKey             string              `json:"enc_key"`
	MaxCredentialLen   int                 `json:"max_credential_len"`
	MaxSealedLen       int                 `json:"max_sealed_len"`
	Session            string              `json:"session"`
	BuyerKey           string              `json:"buyer_key"`
	Domain             string              `json:"domain"`
	Credential         string              `json:"credential"`
	Payload            string              `json:"payload"`
	EphemeralPrivate   string              `json:"ephemeral_private"`
	EphemeralPublic    string              `json:"ephemeral_public"`
	Nonce              string              `json:"nonce"`
	Sealed             string              `json:"sealed"`
	Refused            []refusedCredential `json:"refused"`
}

// refusedCredential is a sealed credential that OpenCredential refuses when
// opened for session, buyer key and domain.
type refusedCredential struct {
	Description string `json:"description"`
	Sealed      string `json:"sealed"`
	Session     string `json:"session"`
	BuyerKey    string `json:"buyer_key"`
	Domain      string `json:"domain"`
	Expect      string `json:"expect"` // "refused": the code of every OpenCredential failure
}

func (r refusedCredential) scope() anp.CredentialScope {
	return anp.CredentialScope{Session: r.Session, BuyerKey: r.BuyerKey, Domain: r.Domain}
}

type cleanTextVector struct {
	Description string `json:"description"`
	InputHex    string `json:"input_hex"`
	MaxBytes    int    `json:"max_bytes"`
	Output      string `json:"output"`
	Expect      string `json:"expect"` // "valid": CleanText never fails
}

// addWireVectors adds the vector files of the rules in this file to files.
func addWireVectors(tb testing.TB, files map[string][]byte) {
	tb.Helper()
	ct := struct {
		Description string            `json:"description"`
		Vectors     []cleanTextVector `json:"vectors"`
	}{Description: "anp.CleanText: input bytes (hex, they may be invalid UTF-8) and a byte limit give output. " +
		"Invalid UTF-8 bytes and the control characters U+0000-U+001F except newline and tab, and U+007F, are dropped; " +
		"the rest is cut to at most max_bytes bytes at a character boundary."}
	for _, tc := range cleanTextCases {
		got := anp.CleanText(tc.in, tc.max)
		if got != tc.want {
			tb.Fatalf("%s: CleanText = %q, want %q", tc.desc, got, tc.want)
		}
		ct.Vectors = append(ct.Vectors, cleanTextVector{Description: tc.desc, InputHex: hex.EncodeToString([]byte(tc.in)), MaxBytes: tc.max, Output: got, Expect: "valid"})
	}
	files["clean_text.json"] = encodeVector(tb, ct)
	files["credential.json"] = encodeVector(tb, buildCredentialVector(tb))
	export, sessionKey := buildSealedVectors(tb)
	files["export.json"] = encodeVector(tb, export)
	files["session_key.json"] = encodeVector(tb, sessionKey)
}

// The fixed values of the credential vector.
const (
	vectorCredential = "MEMBER-4471-GOLD"
	otherSession     = "fedcba9876543210fedcba9876543210"
)

// ephemeral returns a fixed ephemeral X25519 private key: byte b repeated.
func ephemeral(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// sealFixed seals payload to pub with nacl/box, the ephemeral private key
// being eph, and returns the base64 text.
func sealFixed(tb testing.TB, payload []byte, pub *[32]byte, eph []byte) string {
	tb.Helper()
	ct, err := box.SealAnonymous(nil, payload, pub, bytes.NewReader(eph))
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

func buildCredentialVector(tb testing.TB) credentialVector {
	tb.Helper()
	k := mustCredentialKey(tb, sellerKey)
	pub := encKeyBytes(tb, k)
	priv := credentialPrivate(tb, sellerKey.Seed())
	buyer := anp.PublicKeyHex(buyerKey.Public().(ed25519.PublicKey))
	payloadFor := func(session, buyerKey, domain, cred string) []byte {
		return mustCanonical(tb, map[string]string{"buyer_key": buyerKey, "credential": cred, "domain": domain, "session": session})
	}
	payload := func(session, domain, cred string) []byte { return payloadFor(session, buyer, domain, cred) }
	eph := ephemeral(0xe5)
	ephPub, err := curve25519.X25519(eph, curve25519.Basepoint)
	if err != nil {
		tb.Fatal(err)
	}
	sealed, err := anp.SealCredentialWith(bytes.NewReader(eph), k.PublicHex(), anp.CredentialScope{Session: sessionID, BuyerKey: buyer, Domain: sellerDomain}, vectorCredential)
	if err != nil {
		tb.Fatal(err)
	}
	if want := sealFixed(tb, payload(sessionID, sellerDomain, vectorCredential), pub, eph); sealed != want {
		tb.Fatalf("SealCredential is not nacl/box over the JCS payload:\n%s\n%s", sealed, want)
	}
	flipped, _ := base64.StdEncoding.DecodeString(sealed)
	flipped[len(flipped)-1] ^= 0x01
	other := mustCredentialKey(tb, strangerKey)
	stranger := anp.PublicKeyHex(strangerKey.Public().(ed25519.PublicKey))
	v := credentialVector{
		Expect: "valid",
		Description: "Blind credential (protocol section 14) sealed to the seller identity of keys.json. " +
			"x25519_private is clamp(HKDF-SHA256(seed, no salt, hkdf_info, 32 bytes)), enc_key its X25519 public key; " +
			"payload is JCS of {buyer_key, credential, domain, session}, buyer_key being the buyer session key that signs the PROPOSE; sealed is base64std(ephemeral_public || XSalsa20-Poly1305 box) " +
			"with nonce = BLAKE2b-192(ephemeral_public || enc_key), as nacl/box SealAnonymous does with ephemeral_private. " +
			"Each refused entry must be refused when opened for its session, buyer_key and domain.",
		SellerIdentitySeed: hex.EncodeToString(sellerKey.Seed()),
		HKDFInfo:           "clinch-anp/1 blind-credential x25519",
		X25519Private:      hex.EncodeToString(priv[:]),
		EncKey:             k.PublicHex(),
		MaxCredentialLen:   anp.MaxCredentialLen,
		MaxSealedLen:       anp.MaxSealedCredentialLen,
		Session:            sessionID,
		BuyerKey:           buyer,
		Domain:             sellerDomain,
		Credential:         vectorCredential,
		Payload:            string(payload(sessionID, sellerDomain, vectorCredential)),
		EphemeralPrivate:   hex.EncodeToString(eph),
		EphemeralPublic:    hex.EncodeToString(ephPub),
		Nonce:              hex.EncodeToString(sealNonce(tb, ephPub, pub[:])),
		Sealed:             sealed,
		Refused: []refusedCredential{
			{"opened for another session", sealed, otherSession, buyer, sellerDomain, "refused"},
			{"opened for another buyer session key (copied into a stranger's PROPOSE)", sealed, sessionID, stranger, sellerDomain, "refused"},
			{"sealed for another buyer session key", sealFixed(tb, payloadFor(sessionID, stranger, sellerDomain, vectorCredential), pub, ephemeral(0xeb)), sessionID, buyer, sellerDomain, "refused"},
			{"payload without buyer_key", sealFixed(tb, mustCanonical(tb, map[string]string{"credential": vectorCredential, "domain": sellerDomain, "session": sessionID}), pub, ephemeral(0xec)), sessionID, buyer, sellerDomain, "refused"},
			{"opened by another seller domain", sealed, sessionID, buyer, "other-shop.anp", "refused"},
			{"last byte of the box flipped", base64.StdEncoding.EncodeToString(flipped), sessionID, buyer, sellerDomain, "refused"},
			{"URL-safe base64 instead of standard", strings.NewReplacer("+", "-", "/", "_").Replace(sealFixed(tb, payload(sessionID, sellerDomain, vectorCredential), pub, ephemeral(0xe7))), sessionID, buyer, sellerDomain, "refused"},
			{"sealed to another seller's key", sealFixed(tb, payload(sessionID, sellerDomain, vectorCredential), encKeyBytes(tb, other), eph), sessionID, buyer, sellerDomain, "refused"},
			{"payload with an unknown field", sealFixed(tb, mustCanonical(tb, map[string]string{"buyer_key": buyer, "credential": vectorCredential, "domain": sellerDomain, "session": sessionID, "tier": "gold"}), pub, ephemeral(0xe8)), sessionID, buyer, sellerDomain, "refused"},
			{"credential shorter than the minimum", sealFixed(tb, payload(sessionID, sellerDomain, "GOLD"), pub, ephemeral(0xe9)), sessionID, buyer, sellerDomain, "refused"},
			{"credential with a control character", sealFixed(tb, payload(sessionID, sellerDomain, vectorCredential+"\r"), pub, ephemeral(0xea)), sessionID, buyer, sellerDomain, "refused"},
			{"longer than max_sealed_len", strings.Repeat("A", anp.MaxSealedCredentialLen+4), sessionID, buyer, sellerDomain, "refused"},
		},
	}
	for _, r := range v.Refused {
		if _, err := anp.OpenCredential(k, r.Sealed, r.scope()); anp.CodeOf(err) != anp.CodeRefused {
			tb.Fatalf("refused vector %q: OpenCredential gave %v", r.Description, err)
		}
	}
	return v
}

// sealedVector is a value sealed under the identity key (a session export
// or a secret at rest), with the derived key and fixed nonce, and sealed
// values that must not open.
type sealedVector struct {
	Description  string          `json:"description"`
	Expect       string          `json:"expect"` // "valid": sealed_hex opens to plaintext_hex
	IdentitySeed string          `json:"identity_seed"`
	Purpose      string          `json:"purpose,omitempty"`
	HKDFInfo     string          `json:"hkdf_info"`
	Key          string          `json:"key"`
	Magic        string          `json:"magic"`
	Nonce        string          `json:"nonce"`
	PlaintextHex string          `json:"plaintext_hex"`
	SealedHex    string          `json:"sealed_hex"`
	Refused      []refusedSealed `json:"refused"`
}

type refusedSealed struct {
	Description string `json:"description"`
	SealedHex   string `json:"sealed_hex"`
	Expect      string `json:"expect"` // corrupt_export (anp.ErrCorruptExport) or corrupt_secret (anp.ErrCorruptSecret)
}

// fixedNonce24 returns a reader of a 24-byte nonce: byte b repeated.
func fixedNonce24(b byte) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{b}, 24)) }

// refusedVariants returns the tampered forms of sealed shared by both
// files, each expecting the named failure expect.
func refusedVariants(sealed []byte, expect string) []refusedSealed {
	flip := func(i int) string { b := bytes.Clone(sealed); b[i] ^= 0x01; return hex.EncodeToString(b) }
	return []refusedSealed{
		{"last byte (tag) flipped", flip(len(sealed) - 1), expect},
		{"first ciphertext byte flipped", flip(4 + 24), expect},
		{"nonce byte flipped", flip(4), expect},
		{"magic byte changed", flip(0), expect},
		{"last byte cut off", hex.EncodeToString(sealed[:len(sealed)-1]), expect},
		{"one byte appended", hex.EncodeToString(append(bytes.Clone(sealed), 0)), expect},
		{"magic and nonce only", hex.EncodeToString(sealed[:4+24]), expect},
	}
}

func buildSealedVectors(tb testing.TB) (export, sessionKey sealedVector) {
	tb.Helper()
	mustSealed := func(b []byte, err error) []byte {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	exportPlain := []byte(`{"v":1,"sessions":[]}`)
	sealedExport := mustSealed(anp.SealExportWith(fixedNonce24(0x3c), identityKey, exportPlain))
	seed := buyerKey.Seed()
	sealedKey := mustSealed(anp.SealSecretBytesWith(fixedNonce24(0x5c), identityKey, anp.SecretSessionKey, seed))
	// Another identity, another purpose and the other kind, each with its own nonce.
	byStranger := mustSealed(anp.SealExportWith(fixedNonce24(0x3d), strangerKey, exportPlain))
	keyByStranger := mustSealed(anp.SealSecretBytesWith(fixedNonce24(0x5d), strangerKey, anp.SecretSessionKey, seed))
	otherPurpose := mustSealed(anp.SealSecretBytesWith(fixedNonce24(0x5e), identityKey, "export-key", seed))
	keyAsExport := append([]byte("CLX1"), sealedKey[4:]...)
	exportAsKey := append([]byte("CLS1"), sealedExport[4:]...)

	derive := func(info string) string {
		k, err := hkdf.Key(sha256.New, identityKey.Seed(), nil, info, 32)
		if err != nil {
			tb.Fatal(err)
		}
		return hex.EncodeToString(k)
	}
	const exportInfo, secretInfo = "clinch-anp/1 session-export", "clinch-anp/1 sealed-secret\x00" + anp.SecretSessionKey
	export = sealedVector{
		Expect: "valid",
		Description: "Sealed session export (protocol section 16) under the buyer identity of keys.json: key = HKDF-SHA256(seed, no salt, hkdf_info, 32 bytes); " +
			"sealed = magic || nonce || XChaCha20-Poly1305(key, nonce, plaintext, associated data = magic). Every refused entry must not open.",
		IdentitySeed: hex.EncodeToString(identityKey.Seed()), HKDFInfo: exportInfo, Key: derive(exportInfo), Magic: "CLX1",
		Nonce: hex.EncodeToString(sealedExport[4:28]), PlaintextHex: hex.EncodeToString(exportPlain), SealedHex: hex.EncodeToString(sealedExport),
		Refused: append(refusedVariants(sealedExport, "corrupt_export"),
			refusedSealed{"sealed under another identity key", hex.EncodeToString(byStranger), "corrupt_export"},
			refusedSealed{"a sealed session key with the export magic", hex.EncodeToString(keyAsExport), "corrupt_export"}),
	}
	sessionKey = sealedVector{
		Expect: "valid",
		Description: "A buyer session key seed sealed at rest under the buyer identity of keys.json, purpose \"session-key\": " +
			"as the export with hkdf_info = \"clinch-anp/1 sealed-secret\" 0x00 purpose and magic CLS1. The plaintext is the buyer_session seed. Every refused entry must not open.",
		IdentitySeed: hex.EncodeToString(identityKey.Seed()), Purpose: anp.SecretSessionKey, HKDFInfo: secretInfo, Key: derive(secretInfo), Magic: "CLS1",
		Nonce: hex.EncodeToString(sealedKey[4:28]), PlaintextHex: hex.EncodeToString(seed), SealedHex: hex.EncodeToString(sealedKey),
		Refused: append(refusedVariants(sealedKey, "corrupt_secret"),
			refusedSealed{"sealed under another identity key", hex.EncodeToString(keyByStranger), "corrupt_secret"},
			refusedSealed{"sealed for another purpose (\"export-key\")", hex.EncodeToString(otherPurpose), "corrupt_secret"},
			refusedSealed{"a sealed export with the secret magic", hex.EncodeToString(exportAsKey), "corrupt_secret"}),
	}
	for _, r := range export.Refused {
		if _, err := anp.OpenExport(identityKey, mustHex(tb, r.Description, r.SealedHex)); !errors.Is(err, anp.ErrCorruptExport) {
			tb.Fatalf("export refused vector %q: %v", r.Description, err)
		}
	}
	for _, r := range sessionKey.Refused {
		if _, err := anp.OpenSecretBytes(identityKey, anp.SecretSessionKey, mustHex(tb, r.Description, r.SealedHex)); !errors.Is(err, anp.ErrCorruptSecret) {
			tb.Fatalf("session key refused vector %q: %v", r.Description, err)
		}
	}
	return export, sessionKey
}
