package anp_test

import (
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// lifecycleSeeds returns the leaves of a lifecycle with every kind of
// event: fulfil, breach, dispute, resolve, receipt and lapse.
func lifecycleSeeds(tb testing.TB) (*lifecycleFixture, [][]byte) {
	f := newLifecycleFixture(tb)
	at := f.Life.Commitment.DeliverBy + 1
	ev, _ := f.Life.Due(at)
	f.log(tb, ev, at)
	if err := f.submit(tb, f.seal(tb, buyerKey, anp.TypeDispute, at, &anp.DisputeBody{Deal: f.Deal, Reason: anp.ReasonNonDelivery, Severity: 2, Evidence: []string{f.Artifact.Terms.TranscriptHead}, Attachments: []string{evidence(4)}}), at); err != nil {
		tb.Fatal(err)
	}
	due := at + anp.NonDeliveryGrace
	if err := f.submit(tb, f.seal(tb, arbiterKey, anp.TypeResolve, due, &anp.ResolveBody{Deal: f.Deal, Dispute: f.Life.Dispute.Hash, Outcome: anp.OutcomeForBuyer, DecidedBy: anp.Decider{Kind: anp.DecidedByRule, ID: anp.RuleNonDelivery}}), due); err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, e := range f.Events {
		data, err := e.Leaf.LeafData()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, data)
	}
	return f, out
}

// FuzzVerifyDealEventLeaf: any bytes either fail to parse or verify as a
// deal event leaf, never panic; a leaf that verifies re-encodes to the same
// bytes it was parsed from when those were canonical.
func FuzzVerifyDealEventLeaf(f *testing.F) {
	fx, seeds := lifecycleSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte(`{"deal_event":{},"registry":{}}`))
	f.Add([]byte(`{"Deal_Event":1}`))
	root := pub(rootKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := anp.ParseLogLeaf(data)
		if err != nil || l.DealEvent == nil {
			return
		}
		if l.DealEvent.Verify(root, fx.Chain) != nil {
			return
		}
		again, err := l.DealEvent.LeafData()
		if err != nil {
			t.Fatalf("verified leaf does not re-encode: %v", err)
		}
		if _, err := anp.ParseLogLeaf(again); err != nil {
			t.Fatalf("re-encoded leaf does not parse: %v", err)
		}
	})
}

// FuzzLifecycleCheck: an arbitrary envelope offered to a fresh lifecycle is
// refused with a coded error or accepted as an event of the deal, and a
// refusal changes nothing.
func FuzzLifecycleCheck(f *testing.F) {
	fx := newLifecycleFixture(f)
	at := fx.Artifact.Terms.AgreedAt + hourMs
	f.Add(mustCanonical(f, fx.seal(f, sellerKey, anp.TypeFulfill, at, &anp.FulfilBody{Deal: fx.Deal, Evidence: evidence(1)})))
	f.Add(mustCanonical(f, fx.seal(f, buyerKey, anp.TypeDispute, at, &anp.DisputeBody{Deal: fx.Deal, Reason: anp.ReasonLateDelivery, Severity: 1, Evidence: []string{evidence(2)}})))
	f.Add(mustCanonical(f, fx.seal(f, buyerKey, anp.TypeReceipt, at, &anp.ReceiptBody{Deal: fx.Deal})))
	before := string(mustJSON(f, fx.Life))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := anp.DecodeEnvelope(data)
		if err != nil {
			return
		}
		ev, err := fx.Life.Check(e, &fx.Arbiter, at)
		if string(mustJSON(t, fx.Life)) != before {
			t.Fatal("Check changed the lifecycle")
		}
		if err != nil {
			if anp.CodeOf(err) == "" {
				t.Fatalf("uncoded error %v", err)
			}
			return
		}
		if ev.Session != sessionID || ev.Deal != fx.Deal || ev.Envelope != e {
			t.Fatalf("accepted event %+v", ev)
		}
	})
}
