package anp_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// lifecycleCase is one deal lifecycle of deal_events.json: the logged
// events in log order and what anp.VerifyLifecycle must say.
type lifecycleCase struct {
	Description string               `json:"description"`
	Events      []anp.DealEventEntry `json:"events"`
	Expect      string               `json:"expect"`
	State       anp.DealState        `json:"state,omitempty"`
}

// dealLeafCase is one logged deal event's leaf data and hash.
type dealLeafCase struct {
	Description string `json:"description"`
	LeafData    string `json:"leaf_data"`
	LeafHash    string `json:"leaf_hash"`
	Expect      string `json:"expect"`
}

// dealScenario plays events on a fresh lifecycle fixture and returns them.
func dealScenario(tb testing.TB, play func(f *lifecycleFixture)) []anp.DealEventEntry {
	f := newLifecycleFixture(tb)
	play(f)
	return f.Events
}

// forceLog logs ev without the lifecycle's checks (a registry that breaks
// the rules), so that the file carries the leaf a verifier must refuse.
func (f *lifecycleFixture) forceLog(tb testing.TB, ev anp.DealEvent, ms int64) {
	leaf, err := anp.CountersignDealEvent(ev, notaryKey, f.Chain[0], time.UnixMilli(ms))
	if err != nil {
		tb.Fatal(err)
	}
	f.Events = append(f.Events, anp.DealEventEntry{LeafIndex: f.next, Leaf: *leaf})
	f.next++
}

func addDealEventVectors(tb testing.TB, files map[string][]byte) {
	tb.Helper()
	base := newLifecycleFixture(tb)
	deliverBy := base.Life.Commitment.DeliverBy
	at := base.Artifact.Terms.AgreedAt + hourMs
	fulfil := func(f *lifecycleFixture, ms int64) {
		if err := f.submit(tb, f.seal(tb, sellerKey, anp.TypeFulfill, ms, &anp.FulfilBody{Deal: f.Deal, Evidence: evidence(1)}), ms); err != nil {
			tb.Fatal(err)
		}
	}
	receipt := func(f *lifecycleFixture, ms int64) {
		if err := f.submit(tb, f.seal(tb, buyerKey, anp.TypeReceipt, ms, &anp.ReceiptBody{Deal: f.Deal}), ms); err != nil {
			tb.Fatal(err)
		}
	}
	dispute := func(f *lifecycleFixture, ms int64) *anp.Envelope {
		d := f.seal(tb, buyerKey, anp.TypeDispute, ms, &anp.DisputeBody{Deal: f.Deal, Reason: anp.ReasonNonDelivery, Severity: 3, Evidence: []string{f.Artifact.Terms.TranscriptHead}})
		if err := f.submit(tb, d, ms); err != nil {
			tb.Fatal(err)
		}
		return d
	}
	due := func(f *lifecycleFixture, ms int64) {
		ev, ok := f.Life.Due(ms)
		if !ok {
			tb.Fatalf("nothing due at %d", ms)
		}
		f.log(tb, ev, ms)
	}
	cases := []lifecycleCase{
		{Description: "fulfilled on time, then received", Expect: "valid", State: anp.StateReceived,
			Events: dealScenario(tb, func(f *lifecycleFixture) { fulfil(f, at); receipt(f, at+hourMs) })},
		{Description: "breach recorded after deliver_by, a late FULFILL, the receipt window lapses in silence", Expect: "valid", State: anp.StateReceived,
			Events: dealScenario(tb, func(f *lifecycleFixture) {
				due(f, deliverBy+1)
				fulfil(f, deliverBy+hourMs)
				due(f, deliverBy+hourMs+f.Life.Commitment.ReceiptWindow+1)
			})},
		{Description: "a non_delivery dispute resolved for the buyer by rule non_delivery_v1 after the grace period", Expect: "valid", State: anp.StateResolved,
			Events: dealScenario(tb, func(f *lifecycleFixture) {
				d := dispute(f, at)
				ms := deliverBy + anp.NonDeliveryGrace
				body := &anp.ResolveBody{Deal: f.Deal, Dispute: mustHash(tb, d), Outcome: anp.OutcomeForBuyer, DecidedBy: anp.Decider{Kind: anp.DecidedByRule, ID: anp.RuleNonDelivery}}
				if err := f.submit(tb, f.seal(tb, arbiterKey, anp.TypeResolve, ms, body), ms); err != nil {
					tb.Fatal(err)
				}
			})},
		{Description: "a RECEIPT before any FULFILL", Expect: "deal_event_order",
			Events: dealScenario(tb, func(f *lifecycleFixture) {
				e := f.seal(tb, buyerKey, anp.TypeReceipt, at, &anp.ReceiptBody{Deal: f.Deal})
				f.forceLog(tb, anp.DealEvent{Kind: anp.EventReceipt, By: anp.ByBuyer, Session: sessionID, Deal: f.Deal, DealLeaf: f.Life.DealLeaf, SellerDomain: sellerDomain, Envelope: e}, at)
			})},
		{Description: "a breach recorded before deliver_by", Expect: "deadline",
			Events: dealScenario(tb, func(f *lifecycleFixture) {
				f.forceLog(tb, anp.DealEvent{Kind: anp.EventBreach, By: anp.ByRegistry, Session: sessionID, Deal: f.Deal, DealLeaf: f.Life.DealLeaf, SellerDomain: sellerDomain, Rule: anp.RuleBreach}, deliverBy)
			})},
		{Description: "a second dispute of the deal, by the seller", Expect: "dispute_exists",
			Events: dealScenario(tb, func(f *lifecycleFixture) {
				dispute(f, at)
				e := f.seal(tb, sellerKey, anp.TypeDispute, at+1, &anp.DisputeBody{Deal: f.Deal, Reason: anp.ReasonUnauthorisedChange, Severity: 1, Evidence: []string{f.Artifact.Terms.TranscriptHead}})
				f.forceLog(tb, anp.DealEvent{Kind: anp.EventDispute, By: anp.BySeller, Session: sessionID, Deal: f.Deal, DealLeaf: f.Life.DealLeaf, SellerDomain: sellerDomain, Envelope: e}, at+1)
			})},
		{Description: "a FULFILL signed by the buyer", Expect: "deal_event_signer",
			Events: dealScenario(tb, func(f *lifecycleFixture) {
				e := f.seal(tb, buyerKey, anp.TypeFulfill, at, &anp.FulfilBody{Deal: f.Deal, Evidence: evidence(1)})
				f.forceLog(tb, anp.DealEvent{Kind: anp.EventFulfill, By: anp.BySeller, Session: sessionID, Deal: f.Deal, DealLeaf: f.Life.DealLeaf, SellerDomain: sellerDomain, Envelope: e}, at)
			})},
		{Description: "the countersignature of the first event does not verify (notarized_at changed)", Expect: "deal_event_notary",
			Events: dealScenario(tb, func(f *lifecycleFixture) {
				fulfil(f, at)
				f.Events[0].Leaf.Registry.NotarizedAt++
			})},
		{Description: "the same FULFILL logged twice", Expect: "deal_event_replay",
			Events: dealScenario(tb, func(f *lifecycleFixture) {
				fulfil(f, at)
				again := f.Events[0]
				again.LeafIndex = f.next
				f.Events = append(f.Events, again)
			})},
	}
	var leaves []dealLeafCase
	for _, e := range cases[2].Events {
		data, err := e.Leaf.LeafData()
		if err != nil {
			tb.Fatal(err)
		}
		leaves = append(leaves, dealLeafCase{Description: "the " + e.Leaf.Event.Kind + " leaf", LeafData: string(data), LeafHash: hex.EncodeToString(anp.LeafHash(data)), Expect: "valid"})
	}
	type section[T any] struct {
		Description string `json:"description"`
		Cases       []T    `json:"cases"`
	}
	files["deal_events.json"] = encodeVector(tb, struct {
		Description string                 `json:"description"`
		RootKey     string                 `json:"root_key"`
		KeyChain    []anp.KeyEntry         `json:"key_chain"`
		Arbiter     anp.ArbiterKey         `json:"arbiter"`
		ArbiterSig  sigVector              `json:"arbiter_certificate"`
		Artifact    *anp.Artifact          `json:"artifact"`
		Commitment  anp.Commitment         `json:"commitment"`
		DealHash    string                 `json:"deal_hash"`
		Leaves      section[dealLeafCase]  `json:"leaves"`
		Lifecycles  section[lifecycleCase] `json:"lifecycles"`
	}{
		Description: "The deal lifecycle after the signature (protocol §15): an artifact whose terms carry delivery_days 2 and receipt_days 3 " +
			"and so its commitment, the registry's arbiter key certified by the root key, the log leaves of one lifecycle, and lifecycles to replay.",
		RootKey: pub(rootKey), KeyChain: base.Chain, Arbiter: base.Arbiter,
		ArbiterSig: newSigVector(tb, "the root key certifies the arbiter key; signed is the certificate without sig", anp.PurposeArbiterKey, rootKey,
			anp.ArbiterKey{Index: base.Arbiter.Index, Key: base.Arbiter.Key, ValidFrom: base.Arbiter.ValidFrom}, base.Arbiter.Sig, nil, false),
		Artifact: base.Artifact, Commitment: *base.Artifact.Terms.Commitment, DealHash: base.Deal,
		Leaves:     section[dealLeafCase]{"anp.ParseLogLeaf(leaf_data) is a deal event and DealEventLeaf.Verify(root_key, key_chain) passes; leaf_hash is SHA-256(0x00 || leaf_data).", leaves},
		Lifecycles: section[lifecycleCase]{"anp.VerifyLifecycle(artifact, {RootKey: root_key}, key_chain, events) ends in state, or fails with the named error of expect.", cases},
	})
}
