package anp_test

import (
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// expectFor is what the receiver of env expects in the fixture negotiation:
// buyer envelopes go to the seller domain, seller envelopes to the buyer's
// session key.
func expectFor(e *anp.Envelope, now time.Time) anp.Expect {
	if e.From == pub(sellerKey) {
		return anp.Expect{Session: sessionID, From: pub(sellerKey), To: pub(buyerKey), Now: now}
	}
	return anp.Expect{Session: sessionID, From: pub(buyerKey), To: sellerDomain, Now: now}
}

var negotiationNow = time.UnixMilli(t0Ms + 5000)

func TestTranscriptAppend(t *testing.T) {
	n := buildNegotiation(t)
	var tr anp.Transcript
	if tr.NextSeq() != 1 || tr.Last() != nil || tr.Head != "" {
		t.Fatalf("zero transcript: next %d last %v head %q", tr.NextSeq(), tr.Last(), tr.Head)
	}
	for i, e := range n.envelopes() {
		if err := tr.Append(e, expectFor(e, negotiationNow)); err != nil {
			t.Fatalf("append %d: %v", i+1, err)
		}
		if tr.Head != mustHash(t, e) || tr.Last() != e || tr.NextSeq() != uint64(i+2) {
			t.Fatalf("after %d: head %s last %v next %d", i+1, tr.Head, tr.Last(), tr.NextSeq())
		}
	}
	head, err := anp.VerifyChain(tr.Envelopes)
	if err != nil || head != tr.Head {
		t.Fatalf("VerifyChain = %s, %v; head %s", head, err, tr.Head)
	}
}

// transcriptOf returns a transcript holding the first k fixture envelopes.
func transcriptOf(t *testing.T, n negotiation, k int) *anp.Transcript {
	t.Helper()
	var tr anp.Transcript
	for _, e := range n.envelopes()[:k] {
		if err := tr.Append(e, expectFor(e, negotiationNow)); err != nil {
			t.Fatal(err)
		}
	}
	return &tr
}

func TestTranscriptCheckRefusals(t *testing.T) {
	n := buildNegotiation(t)
	sellerNext := func(f envelopeFields) *anp.Envelope {
		// A seller envelope that would be valid as seq 4 unless f changes it.
		base := envelopeFields{Type: anp.TypeAccept, Seq: 4, Prev: mustHash(t, n.BuyerCounter), To: pub(buyerKey), TS: t0Ms + 4000, Nonce: fixedNonce(0x44),
			Body: &anp.OfferBody{Price: anp.Money{Amount: 8500, Currency: "USD"}, Turn: 2}}
		if f.Type != "" {
			base.Type = f.Type
		}
		if f.Seq != 0 {
			base.Seq = f.Seq
		}
		if f.Prev != "" {
			base.Prev = f.Prev
		}
		if f.To != "" {
			base.To = f.To
		}
		if f.TS != 0 {
			base.TS = f.TS
		}
		if f.Nonce != "" {
			base.Nonce = f.Nonce
		}
		if f.Session != "" {
			base.Session = f.Session
		}
		return signEnvelope(t, sellerKey, base)
	}
	forged := cloneEnvelope(n.Accept)
	forged.Body = []byte(`{"price":{"amount":1,"currency":"USD"},"turn":2}`)
	strangerAccept := cloneEnvelope(n.Accept) // validly signed, by the wrong key
	strangerAccept.From = pub(strangerKey)
	resign(t, strangerKey, strangerAccept)

	tests := []struct {
		name string
		e    *anp.Envelope
		x    anp.Expect
		code anp.Code
		msg  string
	}{
		{"valid", n.Accept, expectFor(n.Accept, negotiationNow), "", ""},
		{"valid with no sender or recipient expectation", n.Accept, anp.Expect{Session: sessionID, Now: negotiationNow}, "", ""},
		{"forged body", forged, expectFor(n.Accept, negotiationNow), anp.CodeBadSignature, "does not verify"},
		{"wrong sender", strangerAccept, expectFor(n.Accept, negotiationNow), anp.CodeBadSignature, "is signed by " + pub(strangerKey)[:12] + ", expected " + pub(sellerKey)[:12]},
		{"buyer envelope where the seller must answer", signEnvelope(t, buyerKey, envelopeFields{Type: anp.TypeCounter, Seq: 4, Prev: mustHash(t, n.BuyerCounter), To: pub(buyerKey), TS: t0Ms + 4000, Nonce: fixedNonce(0x45), Body: &anp.OfferBody{Price: anp.Money{Amount: 1, Currency: "USD"}, Turn: 2}}),
			expectFor(n.Accept, negotiationNow), anp.CodeBadSignature, "expected " + pub(sellerKey)[:12]},
		{"wrong recipient", sellerNext(envelopeFields{To: pub(strangerKey)}), expectFor(n.Accept, negotiationNow), anp.CodeBadRequest, "is addressed to"},
		{"wrong session", sellerNext(envelopeFields{Session: "ffffffffffffffffffffffffffffffff"}), expectFor(n.Accept, negotiationNow), anp.CodeBadRequest, "envelope is for session ffffffffffffffffffffffffffffffff, expected " + sessionID},
		{"replayed envelope", n.SellerCounter, expectFor(n.Accept, negotiationNow), anp.CodeReplay, "repeats an envelope already in the transcript"},
		{"replayed nonce", sellerNext(envelopeFields{Nonce: n.SellerCounter.Nonce}), expectFor(n.Accept, negotiationNow), anp.CodeReplay, "envelope seq 4 repeats"},
		{"seq skips ahead", sellerNext(envelopeFields{Seq: 5}), expectFor(n.Accept, negotiationNow), anp.CodeOutOfOrder, "envelope has seq 5, expected 4"},
		{"seq goes back", sellerNext(envelopeFields{Seq: 3}), expectFor(n.Accept, negotiationNow), anp.CodeOutOfOrder, "envelope has seq 3, expected 4"},
		{"wrong prev", sellerNext(envelopeFields{Prev: mustHash(t, n.SellerCounter)}), expectFor(n.Accept, negotiationNow), anp.CodeOutOfOrder, "does not chain to the transcript head"},
		{"expired", n.Accept, expectFor(n.Accept, time.UnixMilli(n.Accept.Exp)), anp.CodeExpired, "expired"},
		{"future-dated", sellerNext(envelopeFields{TS: negotiationNow.Add(anp.MaxClockSkew + time.Second).UnixMilli()}), expectFor(n.Accept, negotiationNow), anp.CodeExpired, "in the future"},
		{"unknown type", func() *anp.Envelope { e := cloneEnvelope(n.Accept); e.Type = "EXIT"; return e }(), expectFor(n.Accept, negotiationNow), anp.CodeUnknownType, "not part of the protocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := transcriptOf(t, n, 3)
			before := tr.Head
			h, err := tr.Check(tt.e, tt.x)
			if tt.code == "" {
				if err != nil || h != mustHash(t, tt.e) {
					t.Fatalf("Check = %s, %v", h, err)
				}
			} else {
				if h != "" {
					t.Fatalf("refused Check returned hash %s", h)
				}
				wantCode(t, err, tt.code, tt.msg)
			}
			// Check never modifies the transcript, and a refused Append does not either.
			if tr.Head != before || len(tr.Envelopes) != 3 {
				t.Fatal("Check modified the transcript")
			}
			if tt.code != "" {
				if err := tr.Append(tt.e, tt.x); anp.CodeOf(err) != tt.code {
					t.Fatalf("Append error %v, want code %s", err, tt.code)
				}
				if tr.Head != before || len(tr.Envelopes) != 3 {
					t.Fatal("refused Append modified the transcript")
				}
			}
		})
	}
}

func TestVerifyChain(t *testing.T) {
	n := buildNegotiation(t)
	envs := n.envelopes()
	head, err := anp.VerifyChain(envs)
	if err != nil || head != mustHash(t, n.Accept) {
		t.Fatalf("VerifyChain = %s, %v", head, err)
	}
	// Times are not checked: the fixture expired long ago.
	if head, err := anp.VerifyChain(nil); err != nil || head != "" {
		t.Fatalf("empty chain = %q, %v", head, err)
	}
	tampered := cloneEnvelope(n.BuyerCounter)
	tampered.Body = []byte(`{"price":{"amount":100,"currency":"USD"},"turn":2}`)
	resigned := cloneEnvelope(n.BuyerCounter)
	resigned.Body = []byte(`{"price":{"amount":100,"currency":"USD"},"turn":2}`)
	resign(t, buyerKey, resigned) // validly signed, but the ACCEPT chains to the original

	tests := []struct {
		name string
		envs []*anp.Envelope
		code anp.Code
		msg  string
	}{
		{"reordered", []*anp.Envelope{envs[0], envs[2], envs[1], envs[3]}, anp.CodeOutOfOrder, "envelope 2 has seq 3"},
		{"first dropped", envs[1:], anp.CodeOutOfOrder, "envelope 1 has seq 2"},
		{"middle dropped", []*anp.Envelope{envs[0], envs[1], envs[3]}, anp.CodeOutOfOrder, "envelope 3 has seq 4"},
		{"duplicated", []*anp.Envelope{envs[0], envs[0]}, anp.CodeOutOfOrder, "envelope 2 has seq 1"},
		{"tampered body", []*anp.Envelope{envs[0], envs[1], tampered, envs[3]}, anp.CodeBadSignature, "envelope COUNTER seq 3"},
		{"replaced envelope breaks the link", []*anp.Envelope{envs[0], envs[1], resigned, envs[3]}, anp.CodeOutOfOrder, "envelope seq 4 does not chain to its predecessor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, err := anp.VerifyChain(tt.envs)
			if head != "" {
				t.Fatalf("refused chain returned head %s", head)
			}
			wantCode(t, err, tt.code, tt.msg)
		})
	}
}
