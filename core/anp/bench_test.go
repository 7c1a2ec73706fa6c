package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// BenchmarkEd25519SignVerify is the floor under every signed message: one
// raw Ed25519 signature and verification of an envelope-sized input.
func BenchmarkEd25519SignVerify(b *testing.B) {
	msg, err := anp.SigningInput(anp.PurposeEnvelope, buildNegotiation(b).Propose)
	if err != nil {
		b.Fatal(err)
	}
	pk := buyerKey.Public().(ed25519.PublicKey)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pk, msg, ed25519.Sign(buyerKey, msg)) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkSealEnvelope(b *testing.B) {
	body := &anp.OfferBody{Price: anp.Money{Amount: 8500, Currency: "USD"}, Turn: 2, Message: "Deal at 85.00 USD."}
	spec := anp.EnvelopeSpec{Type: anp.TypeCounter, Session: sessionID, Seq: 3, Prev: anp.HashBytes(nil), To: sellerDomain, Body: body, Now: t0}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := anp.Seal(buyerKey, spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEnvelope is the strict decode alone: the pre-pass over the
// token stream (duplicate and case-variant keys, integer ranges) and the
// decode with unknown fields refused, then the body into its type.
func BenchmarkDecodeEnvelope(b *testing.B) {
	data := mustJSON(b, buildNegotiation(b).Propose)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := anp.DecodeEnvelope(data)
		if err != nil {
			b.Fatal(err)
		}
		var body anp.ProposeBody
		if err := e.DecodeBody(&body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyEnvelope is what a receiver does with the bytes of an
// envelope: strict decode, signature, hash (the next prev and dedupe key).
func BenchmarkVerifyEnvelope(b *testing.B) {
	data := mustJSON(b, buildNegotiation(b).Propose)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := anp.DecodeEnvelope(data)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.VerifySignature(); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Hash(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyArtifact is the full offline check: buyer, seller and
// registry signatures, a two-entry key chain, the tree head and the
// inclusion proof (six Ed25519 verifications).
func BenchmarkVerifyArtifact(b *testing.B) {
	fx := buildArtifact(b)
	opt := anp.VerifyOptions{RootKey: fx.RootKey}
	b.ReportAllocs()
	for b.Loop() {
		if err := anp.VerifyArtifact(fx.Artifact, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonical(b *testing.B) {
	e := buildNegotiation(b).Propose
	b.ReportAllocs()
	for b.Loop() {
		if _, err := anp.Canonical(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealExport(b *testing.B) {
	id := identityKey
	plain := bytes.Repeat([]byte("x"), 4096)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := anp.SealExport(id, plain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenExport(b *testing.B) {
	id := identityKey
	plain := bytes.Repeat([]byte("x"), 4096)
	sealed, err := anp.SealExport(id, plain)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := anp.OpenExport(id, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealCredential(b *testing.B) {
	encHex := mustCredentialKey(b, sellerKey).PublicHex()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := anp.SealCredential(encHex, scopeOf(sessionID, sellerDomain), "cred-7f3a9c41e2d8b6a0"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenCredential(b *testing.B) {
	k := mustCredentialKey(b, sellerKey)
	sealed := mustSealCredential(b, k, sessionID, sellerDomain, "MEMBER-4471-GOLD")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := anp.OpenCredential(k, sealed, scopeOf(sessionID, sellerDomain)); err != nil {
			b.Fatal(err)
		}
	}
}
