package anp

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"reflect"

	"filippo.io/edwards25519"
)

// Deterministic sealing for the tests and the vectors: the ephemeral key or
// the nonce is read from the reader passed first.
var (
	SealCredentialWith  = sealCredential
	SealExportWith      = sealExport
	SealSecretBytesWith = sealSecretBytes
)

// ISO4217Table is list one as the package holds it: code → numeric code and
// minor unit (-1 for "N.A."), for the money vectors.
func ISO4217Table() map[string][2]int {
	out := make(map[string][2]int, len(iso4217))
	for code, c := range iso4217 {
		out[code] = [2]int{c.Numeric, c.MinorUnit}
	}
	return out
}

// CanonicalReference is the reference path of Canonical (json.Marshal and
// jcs.Transform); CanonicalTyped is the typed writer alone, which fails
// with ErrSlowPath where Canonical takes the reference path.
var (
	CanonicalReference = canonicalReference
	ErrSlowPath        = errSlowPath
)

func CanonicalTyped(v any) ([]byte, error) { return appendCanonical(nil, reflect.ValueOf(v), 0) }

// FastTokenStream and DecoderTokenStream list the tokens of data up to
// io.EOF as fastTokens and json.Decoder (UseNumber) read them.
func FastTokenStream(data []byte) ([]json.Token, error) {
	return tokenStream(&fastTokens{data: data})
}

func DecoderTokenStream(data []byte) ([]json.Token, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return tokenStream(dec)
}

func tokenStream(src tokenSource) ([]json.Token, error) {
	var out []json.Token
	for {
		tok, err := src.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, tok)
	}
}

// CheckStrictDecoder is CheckStrict reading with json.Decoder only.
func CheckStrictDecoder(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	_, err := scanWith(dec, t, false)
	return err
}

// VerifyEquation is the Ed25519 verifier with a remembered −A, with −A
// decoded as crypto/ed25519 decodes a key (non-canonical and small-order
// encodings too): the equation alone, without the protocol's refusals.
func VerifyEquation(pub, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return false
	}
	return verifyEd25519(new(edwards25519.Point).Negate(a), (*[32]byte)(pub), msg, (*[64]byte)(sig))
}

// VerifySigningInput is the verification Verify and SigCache make, over
// a signing input.
func VerifySigningInput(pubHex string, msg []byte, sigHex string) error {
	key, sig, err := parseKeyAndSignature(pubHex, sigHex)
	if err != nil {
		return err
	}
	return verifyMessage(&key, PurposeEnvelope, msg, &sig)
}

// DecodeEnvelopeFast is the envelope reader DecodeStrict uses after its
// pre-pass; it reports whether it read data.
var DecodeEnvelopeFast = decodeEnvelopeFast

// DecodeRelayResponseFast is decodeEnvelopeFast for a relay's answer.
var DecodeRelayResponseFast = decodeRelayResponseFast

// DecodeStrictUnmarshal is DecodeStrict reading every accepted value with
// encoding/json (no envelope fast path): the reference of the differential
// tests.
func DecodeStrictUnmarshal(data []byte, v any) error {
	return decodeStrictWith("", data, v, func(data []byte, v any, known bool) error {
		if !known {
			return decodeRefusingUnknown(data, v)
		}
		return json.Unmarshal(data, v)
	})
}

// DecodeFlatFast is the reader DecodeStrict uses for a struct of scalar
// members after its pre-pass; it reports whether it read data.
var DecodeFlatFast = decodeFlatFast

// AppendCanonicalRaw is the raw reader of the typed writer.
var AppendCanonicalRaw = appendCanonicalRaw

// EnvelopeSigningInput is the signing input of e as Seal and
// VerifySignature write it: from the envelope, without its unsigned copy.
func EnvelopeSigningInput(e *Envelope) ([]byte, error) {
	return SigningInput(PurposeEnvelope, unsignedEnvelope{e})
}
