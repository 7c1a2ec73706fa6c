package anp_test

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

var arbiterKey = seedKey(0xe1) // the registry arbiter key of the lifecycle tests: 0xe1..0x100 (wraps)

const hourMs = int64(time.Hour / time.Millisecond)
const dayMs = 24 * hourMs

// lifecycleFixture is a notarised deal with a commitment (delivery in 2
// days, receipt window 3 days) and a registry that logs its events: a
// one-entry key chain valid for a year, the arbiter key certificate, and
// the log leaves so far.
type lifecycleFixture struct {
	Artifact *anp.Artifact
	Chain    []anp.KeyEntry
	Arbiter  anp.ArbiterKey
	Life     *anp.Lifecycle
	Deal     string
	Events   []anp.DealEventEntry
	next     uint64 // next leaf index
	nonce    byte
}

func newLifecycleFixture(tb testing.TB) *lifecycleFixture {
	tb.Helper()
	n := buildNegotiation(tb)
	terms := dealTerms(tb, n)
	terms.Terms = map[string]string{"shipping": "standard", anp.TermDeliveryDays: "2", anp.TermReceiptDays: "3"}
	n = negotiationWithTerms(tb, terms.Terms)
	terms.TranscriptHead = mustHash(tb, n.Accept)
	c, err := anp.CommitmentFor(terms.Terms, terms.AgreedAt)
	if err != nil {
		tb.Fatal(err)
	}
	terms.Commitment = &c
	a := &anp.Artifact{Terms: terms}
	if err := a.SignAsBuyer(buyerKey); err != nil {
		tb.Fatalf("sign as buyer: %v", err)
	}
	if a.SellerSig, err = a.SellerSignature(sellerKey); err != nil {
		tb.Fatal(err)
	}
	e0, err := anp.NewKeyEntry(rootKey, nil, notaryKey.Public().(ed25519.PublicKey), t0.Add(-24*time.Hour), t0.Add(365*24*time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	chain := []anp.KeyEntry{e0}
	notarizeAt(tb, a, chain, pub(rootKey), a.Terms.CreatedAt+1000, notaryKey, 0)
	arb, err := anp.NewArbiterKey(rootKey, 0, arbiterKey.Public().(ed25519.PublicKey), t0)
	if err != nil {
		tb.Fatal(err)
	}
	confirmHash := mustHash(tb, n.Accept) // the chain the events extend: here the ACCEPT at seq 4 stands for the head
	l, err := anp.NewLifecycle(a, a.Receipt.LeafIndex, 4, confirmHash)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := anp.DealHash(a)
	if err != nil {
		tb.Fatal(err)
	}
	return &lifecycleFixture{Artifact: a, Chain: chain, Arbiter: arb, Life: l, Deal: d, next: a.Receipt.LeafIndex + 2, nonce: 0x50}
}

// negotiationWithTerms is the fixture negotiation with other PROPOSE terms.
func negotiationWithTerms(tb testing.TB, terms map[string]string) negotiation {
	tb.Helper()
	var n negotiation
	body := proposeBody()
	body.Terms = terms
	n.Propose = signEnvelope(tb, buyerKey, envelopeFields{Type: anp.TypePropose, Seq: 1, To: sellerDomain, TS: t0Ms + 1000, Nonce: fixedNonce(0x01), Body: body})
	n.Accept = signEnvelope(tb, sellerKey, envelopeFields{Type: anp.TypeAccept, Seq: 2, Prev: mustHash(tb, n.Propose), To: pub(buyerKey), TS: t0Ms + 4000, Nonce: fixedNonce(0x04),
		Body: &anp.OfferBody{Price: anp.Money{Amount: 8500, Currency: "USD"}, Turn: 1}})
	return n
}

// seal signs the next event envelope of the session with key at ms.
func (f *lifecycleFixture) seal(tb testing.TB, key ed25519.PrivateKey, typ anp.MsgType, ms int64, body any) *anp.Envelope {
	tb.Helper()
	f.nonce++
	to := sellerDomain
	if pub(key) == pub(sellerKey) {
		to = pub(buyerKey)
	}
	return signEnvelope(tb, key, envelopeFields{Type: typ, Seq: f.Life.Seq + 1, Prev: f.Life.Head, To: to, TS: ms, Nonce: fixedNonce(f.nonce), Body: body})
}

// submit checks e at ms as the registry would, and logs and applies it.
func (f *lifecycleFixture) submit(tb testing.TB, e *anp.Envelope, ms int64) error {
	tb.Helper()
	ev, err := f.Life.Check(e, &f.Arbiter, ms)
	if err != nil {
		return err
	}
	f.log(tb, ev, ms)
	return nil
}

// log countersigns ev at ms, appends it as the next leaf and applies it.
func (f *lifecycleFixture) log(tb testing.TB, ev anp.DealEvent, ms int64) {
	tb.Helper()
	leaf, err := anp.CountersignDealEvent(ev, notaryKey, f.Chain[0], time.UnixMilli(ms))
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Life.Apply(&ev, ms, f.next); err != nil {
		tb.Fatalf("apply %s: %v", ev.Kind, err)
	}
	f.Events = append(f.Events, anp.DealEventEntry{LeafIndex: f.next, Leaf: *leaf})
	f.next++
}

func (f *lifecycleFixture) verify(tb testing.TB) *anp.Lifecycle {
	tb.Helper()
	l, err := anp.VerifyLifecycle(f.Artifact, anp.VerifyOptions{RootKey: pub(rootKey)}, f.Chain, f.Events)
	if err != nil {
		tb.Fatalf("VerifyLifecycle: %v", err)
	}
	return l
}

func evidence(b byte) string { return anp.HashBytes([]byte{b}) }

func TestCommitmentIsDerivedAndChecked(t *testing.T) {
	f := newLifecycleFixture(t)
	c := f.Artifact.Terms.Obligations()
	if c.DeliverBy != f.Artifact.Terms.AgreedAt+2*dayMs || c.ReceiptWindow != 3*dayMs || c.Fulfilment != anp.FulfilWithEvidence {
		t.Fatalf("commitment = %+v", c)
	}
	if err := anp.VerifyArtifact(f.Artifact, anp.VerifyOptions{RootKey: pub(rootKey)}); err != nil {
		t.Fatalf("artifact with a commitment: %v", err)
	}
	bad := cloneArtifact(t, f.Artifact)
	bad.Terms.Commitment.DeliverBy += dayMs
	wantCode(t, bad.VerifyBuyer(), anp.CodeBadRequest, "commitment is not the one")
	old := buildArtifact(t).Artifact // signed without a commitment: the defaults apply
	if got := old.Terms.Obligations(); got.DeliverBy != old.Terms.AgreedAt+anp.DefaultDeliveryWindow.Milliseconds() || got.ReceiptWindow != anp.DefaultReceiptWindow.Milliseconds() {
		t.Fatalf("default obligations = %+v", got)
	}
	for _, v := range []string{"0", "366", "1.5", "07", "x"} {
		if _, err := anp.CommitmentFor(map[string]string{anp.TermDeliveryDays: v}, 1); err == nil {
			t.Errorf("delivery_days %q accepted", v)
		}
	}
}

// deliverAndReceive has the seller's FULFILL (evidence 1) logged a day
// after the deal and the buyer's RECEIPT an hour later.
func (f *lifecycleFixture) deliverAndReceive(tb testing.TB) {
	tb.Helper()
	at := f.Artifact.Terms.AgreedAt + dayMs
	if err := f.submit(tb, f.seal(tb, sellerKey, anp.TypeFulfill, at, &anp.FulfilBody{Deal: f.Deal, Evidence: evidence(1)}), at); err != nil {
		tb.Fatal(err)
	}
	if err := f.submit(tb, f.seal(tb, buyerKey, anp.TypeReceipt, at+hourMs, &anp.ReceiptBody{Deal: f.Deal}), at+hourMs); err != nil {
		tb.Fatal(err)
	}
}

func TestLifecycleOnTimeAndReceived(t *testing.T) {
	f := newLifecycleFixture(t)
	f.deliverAndReceive(t)
	if f.Life.State != anp.StateReceived || f.Life.Late || f.Life.Breached {
		t.Fatalf("state %s late %v breached %v", f.Life.State, f.Life.Late, f.Life.Breached)
	}
	if l := f.verify(t); l.State != anp.StateReceived || len(l.Events) != 2 || l.Evidence != evidence(1) {
		t.Fatalf("replayed lifecycle: %+v", l)
	}
}

func TestLifecycleBreachLateAndLapse(t *testing.T) {
	f := newLifecycleFixture(t)
	deadline := f.Life.Commitment.DeliverBy
	if _, ok := f.Life.Due(deadline); ok {
		t.Fatal("breach due at the deadline itself")
	}
	ev, ok := f.Life.Due(deadline + 1)
	if !ok || ev.Kind != anp.EventBreach || ev.Rule != anp.RuleBreach {
		t.Fatalf("Due after the deadline = %+v, %v", ev, ok)
	}
	f.log(t, ev, deadline+1)
	late := deadline + hourMs
	if err := f.submit(t, f.seal(t, sellerKey, anp.TypeFulfill, late, &anp.FulfilBody{Deal: f.Deal, Evidence: evidence(2)}), late); err != nil {
		t.Fatal(err)
	}
	lapseAt := late + f.Life.Commitment.ReceiptWindow + 1
	ev, ok = f.Life.Due(lapseAt)
	if !ok || ev.Kind != anp.EventLapse {
		t.Fatalf("lapse not due: %+v", ev)
	}
	f.log(t, ev, lapseAt)
	l := f.verify(t)
	if l.State != anp.StateReceived || !l.Late || !l.Breached {
		t.Fatalf("replayed: state %s late %v breached %v", l.State, l.Late, l.Breached)
	}
}

func TestLifecycleDisputeResolvedByRuleAndPerson(t *testing.T) {
	for _, tc := range []struct {
		name    string
		decider anp.Decider
		outcome string
	}{
		{"rule", anp.Decider{Kind: anp.DecidedByRule, ID: anp.RuleNonDelivery}, anp.OutcomeForBuyer},
		{"person", anp.Decider{Kind: anp.DecidedByPerson, ID: "ops@registry.example"}, anp.OutcomeForSeller},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLifecycleFixture(t)
			at := f.Life.Commitment.DeliverBy + hourMs
			d := f.seal(t, buyerKey, anp.TypeDispute, at, &anp.DisputeBody{Deal: f.Deal, Reason: anp.ReasonNonDelivery, Severity: 3, Evidence: []string{f.Artifact.Terms.TranscriptHead}})
			if err := f.submit(t, d, at); err != nil {
				t.Fatal(err)
			}
			second := f.seal(t, sellerKey, anp.TypeDispute, at+1, &anp.DisputeBody{Deal: f.Deal, Reason: anp.ReasonNotAsDescribed, Severity: 1, Evidence: []string{f.Artifact.Terms.TranscriptHead}})
			if _, err := f.Life.Check(second, &f.Arbiter, at+1); !errors.Is(err, anp.ErrDisputeExists) || anp.CodeOf(err) != anp.CodeConflict {
				t.Fatalf("second dispute: %v", err)
			}
			due := at + anp.NonDeliveryGrace
			body := &anp.ResolveBody{Deal: f.Deal, Dispute: mustHash(t, d), Outcome: tc.outcome, DecidedBy: tc.decider}
			if tc.decider.Kind == anp.DecidedByRule {
				early := f.seal(t, arbiterKey, anp.TypeResolve, due-1, body)
				if _, err := f.Life.Check(early, &f.Arbiter, due-1); !errors.Is(err, anp.ErrDeadline) {
					t.Fatalf("rule resolution before the grace period: %v", err)
				}
				if o, rule, ok := f.Life.DueResolution(due); !ok || o != anp.OutcomeForBuyer || rule != anp.RuleNonDelivery {
					t.Fatalf("DueResolution = %s %s %v", o, rule, ok)
				}
			}
			if err := f.submit(t, f.seal(t, arbiterKey, anp.TypeResolve, due, body), due); err != nil {
				t.Fatal(err)
			}
			l := f.verify(t)
			if l.State != anp.StateResolved || l.Resolution.Outcome != tc.outcome || l.Resolution.DecidedBy != tc.decider || l.Dispute.By != anp.ByBuyer {
				t.Fatalf("replayed: %+v %+v", l.Resolution, l.Dispute)
			}
		})
	}
}

func TestLifecycleRefusesAndChangesNothing(t *testing.T) {
	f := newLifecycleFixture(t)
	at := f.Artifact.Terms.AgreedAt + hourMs
	fulfil := &anp.FulfilBody{Deal: f.Deal, Evidence: evidence(1)}
	forged := f.seal(t, sellerKey, anp.TypeFulfill, at, fulfil)
	forged.Sig = f.seal(t, sellerKey, anp.TypeFulfill, at+1, fulfil).Sig
	wrongPrev := f.seal(t, sellerKey, anp.TypeFulfill, at, fulfil)
	wrongPrev.Prev = evidence(9)
	resign(t, sellerKey, wrongPrev)
	other := &anp.FulfilBody{Deal: evidence(7), Evidence: evidence(1)}
	cases := []struct {
		name  string
		env   *anp.Envelope
		class error
		code  anp.Code
	}{
		{"receipt before fulfil", f.seal(t, buyerKey, anp.TypeReceipt, at, &anp.ReceiptBody{Deal: f.Deal}), anp.ErrDealEventOrder, anp.CodeBadState},
		{"fulfil by the buyer", f.seal(t, buyerKey, anp.TypeFulfill, at, fulfil), anp.ErrDealEventSigner, anp.CodeBadSignature},
		{"fulfil by a stranger", f.seal(t, strangerKey, anp.TypeFulfill, at, fulfil), anp.ErrDealEventSigner, anp.CodeBadSignature},
		{"forged signature", forged, anp.ErrDealEventSigner, anp.CodeBadSignature},
		{"wrong prev", wrongPrev, anp.ErrDealEventOrder, anp.CodeOutOfOrder},
		{"another deal", f.seal(t, sellerKey, anp.TypeFulfill, at, other), anp.ErrDealEventMalformed, anp.CodeBadRequest},
		{"resolve without a dispute", f.seal(t, arbiterKey, anp.TypeResolve, at, &anp.ResolveBody{Deal: f.Deal, Dispute: evidence(3), Outcome: anp.OutcomeSplit, DecidedBy: anp.Decider{Kind: anp.DecidedByPerson, ID: "ops"}}), anp.ErrDealEventOrder, anp.CodeBadState},
		{"dispute reason off the list", f.seal(t, buyerKey, anp.TypeDispute, at, &anp.DisputeBody{Deal: f.Deal, Reason: "budget_was_90", Severity: 3, Evidence: []string{evidence(1)}}), anp.ErrDealEventMalformed, anp.CodeBadRequest},
		{"dispute severity 9", f.seal(t, buyerKey, anp.TypeDispute, at, &anp.DisputeBody{Deal: f.Deal, Reason: anp.ReasonLateDelivery, Severity: 9, Evidence: []string{evidence(1)}}), anp.ErrDealEventMalformed, anp.CodeBadRequest},
	}
	before := mustJSON(t, f.Life)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Life.Check(tc.env, &f.Arbiter, at)
			if !errors.Is(err, tc.class) || anp.CodeOf(err) != tc.code {
				t.Fatalf("Check = %v (code %s), want %v with %s", err, anp.CodeOf(err), tc.class, tc.code)
			}
		})
	}
	if string(mustJSON(t, f.Life)) != string(before) {
		t.Fatal("a refused event changed the lifecycle")
	}
	ok := f.seal(t, sellerKey, anp.TypeFulfill, at, fulfil)
	if err := f.submit(t, ok, at); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Life.Check(ok, &f.Arbiter, at); !errors.Is(err, anp.ErrDealEventReplay) || anp.CodeOf(err) != anp.CodeReplay {
		t.Fatalf("replayed FULFILL: %v", err)
	}
	breach := anp.DealEvent{Kind: anp.EventBreach, By: anp.ByRegistry, Session: sessionID, Deal: f.Deal, DealLeaf: f.Life.DealLeaf, SellerDomain: sellerDomain, Rule: anp.RuleBreach}
	if err := f.Life.Apply(&breach, at, 99); !errors.Is(err, anp.ErrDealEventOrder) {
		t.Fatalf("breach after the FULFILL: %v", err)
	}
}

func TestVerifyLifecycleRefusesTamperedLeaves(t *testing.T) {
	f := newLifecycleFixture(t)
	at := f.Artifact.Terms.AgreedAt + hourMs
	if err := f.submit(t, f.seal(t, sellerKey, anp.TypeFulfill, at, &anp.FulfilBody{Deal: f.Deal, Evidence: evidence(1)}), at); err != nil {
		t.Fatal(err)
	}
	if err := f.submit(t, f.seal(t, buyerKey, anp.TypeReceipt, at+1, &anp.ReceiptBody{Deal: f.Deal}), at+1); err != nil {
		t.Fatal(err)
	}
	opt := anp.VerifyOptions{RootKey: pub(rootKey)}
	for _, tc := range []struct {
		name   string
		mutate func(es []anp.DealEventEntry)
		class  error
	}{
		{"countersignature", func(es []anp.DealEventEntry) { es[0].Leaf.Registry.NotarizedAt++ }, anp.ErrDealEventNotary},
		{"by", func(es []anp.DealEventEntry) { es[0].Leaf.Event.By = anp.ByBuyer }, anp.ErrDealEventMalformed},
		{"order", func(es []anp.DealEventEntry) { es[0], es[1] = es[1], es[0] }, anp.ErrDealEventOrder},
		{"dropped event", func(es []anp.DealEventEntry) { es[0] = es[1] }, anp.ErrDealEventOrder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := append([]anp.DealEventEntry(nil), f.Events...)
			tc.mutate(es)
			if _, err := anp.VerifyLifecycle(f.Artifact, opt, f.Chain, es); !errors.Is(err, tc.class) {
				t.Fatalf("VerifyLifecycle = %v, want %v", err, tc.class)
			}
		})
	}
}

func TestParseLogLeafKinds(t *testing.T) {
	f := newLifecycleFixture(t)
	at := f.Artifact.Terms.AgreedAt + hourMs
	if err := f.submit(t, f.seal(t, sellerKey, anp.TypeFulfill, at, &anp.FulfilBody{Deal: f.Deal, Evidence: evidence(1)}), at); err != nil {
		t.Fatal(err)
	}
	data, err := f.Events[0].Leaf.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	l, err := anp.ParseLogLeaf(data)
	if err != nil || l.DealEvent == nil || l.Artifact != nil || l.KeyEvent != nil {
		t.Fatalf("ParseLogLeaf(deal event) = %+v, %v", l, err)
	}
	if err := l.DealEvent.Verify(pub(rootKey), f.Chain); err != nil {
		t.Fatal(err)
	}
	if _, _, err := anp.ParseLeaf(data); err == nil {
		t.Fatal("ParseLeaf took a deal event leaf for an artifact or key event")
	}
	art, err := f.Artifact.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	if l, err := anp.ParseLogLeaf(art); err != nil || l.Artifact == nil {
		t.Fatalf("ParseLogLeaf(artifact) = %+v, %v", l, err)
	}
}

// BenchmarkVerifyLifecycle replays a disputed and resolved deal offline:
// the artifact (signatures, key chain, inclusion) and three events
// (breach, dispute, rule resolution), as `clinch-mcp verify` does.
func BenchmarkVerifyLifecycle(b *testing.B) {
	f, _ := lifecycleSeeds(b)
	opt := anp.VerifyOptions{RootKey: pub(rootKey)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := anp.VerifyLifecycle(f.Artifact, opt, f.Chain, f.Events); err != nil {
			b.Fatal(err)
		}
	}
}
