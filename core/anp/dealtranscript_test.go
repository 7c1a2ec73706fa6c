package anp_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// rechain re-links and re-signs envs in order (each with the key that
// matches its from, stranger for any other) and returns the new head.
func rechain(tb testing.TB, envs []*anp.Envelope) string {
	tb.Helper()
	keys := map[string]ed25519.PrivateKey{pub(buyerKey): buyerKey, pub(sellerKey): sellerKey, pub(strangerKey): strangerKey}
	head := ""
	for _, e := range envs {
		e.Prev = head
		resign(tb, keys[e.From], e)
		head = mustHash(tb, e)
	}
	return head
}

func TestVerifyDealTranscript(t *testing.T) {
	cases := []struct {
		name     string
		mutate   func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope
		code     anp.Code
		fragment string
	}{
		{"valid", func(_ *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope { return envs }, "", ""},
		{"longer transcript: later envelopes are not bound", func(_ *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			extra := signEnvelope(t, buyerKey, envelopeFields{Type: anp.TypeCancel, Seq: 5, Prev: mustHash(t, envs[3]), To: sellerDomain, TS: t0Ms + 5000, Nonce: fixedNonce(0x55), Body: &anp.NoteBody{}})
			return append(envs, extra)
		}, "", ""},
		{"too short", func(_ *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope { return envs[:3] }, anp.CodeBadRequest, "binds 4"},
		{"head differs", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			d.TranscriptHead = mustHash(t, envs[2])
			return envs
		}, anp.CodeBadSignature, "transcript_head"},
		{"other session", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			envs[1].Session = "ffffffffffffffffffffffffffffffff"
			d.TranscriptHead = rechain(t, envs)
			return envs
		}, anp.CodeBadRequest, "seq 2 is for session"},
		{"third party", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			envs[1].From = pub(strangerKey)
			d.TranscriptHead = rechain(t, envs)
			return envs
		}, anp.CodeBadSignature, "neither party"},
		{"seller envelope to someone else", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			envs[1].To = sellerDomain
			d.TranscriptHead = rechain(t, envs)
			return envs
		}, anp.CodeBadRequest, "not the buyer key"},
		{"buyer sends ACCEPT", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			envs[2].Type = anp.TypeAccept
			d.TranscriptHead = rechain(t, envs)
			return envs
		}, anp.CodeBadRequest, "a buyer does not send ACCEPT"},
		{"price differs", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			d.Price.Amount = 8400
			return envs
		}, anp.CodeBadRequest, "price"},
		{"agreed_at differs", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			d.AgreedAt++
			return envs
		}, anp.CodeBadRequest, "agreed_at"},
		{"item differs", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			d.Item = "Dutch oven"
			return envs
		}, anp.CodeBadRequest, "item"},
		{"terms differ", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			d.Terms = nil
			return envs
		}, anp.CodeBadRequest, "terms"},
		{"last is not an ACCEPT", func(d *anp.DealTerms, envs []*anp.Envelope) []*anp.Envelope {
			d.TranscriptLen = 3
			d.TranscriptHead = mustHash(t, envs[2])
			return envs
		}, anp.CodeBadRequest, "not the seller's ACCEPT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := buildNegotiation(t)
			d := dealTerms(t, n)
			envs := tc.mutate(&d, n.envelopes())
			err := anp.VerifyDealTranscript(&d, envs)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tc.code, tc.fragment)
		})
	}
}
