package registry

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
)

// The formula written out by hand (docs/reputation.md §3), for the test.
func handGrowth(m float64) float64  { return math.Log(1+m) / (math.Log(1+m) + 3) }
func handValue(p anp.Money) float64 { return 1 + math.Min(2, math.Log10(1+p.Major())/2) }
func handDecay(now, t time.Time, halfLife time.Duration) float64 {
	return math.Exp2(-float64(now.Sub(t).Milliseconds()) / float64(halfLife.Milliseconds()))
}
func handScore(m, pen float64) float64 { return 100 * (0.5 + 0.5*handGrowth(m)) * pen }

// resolveAsPerson has the arbiter decide d's dispute.
func (d *signedDeal) resolveAsPerson(t *testing.T, e *testEnv, outcome string) {
	t.Helper()
	arb := e.client(e.srv.arbiter)
	st, err := arb.DealStatus(context.Background(), d.artifact.Terms.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := SealResolve(e.srv.arbiter, &st.Lifecycle, outcome, anp.Decider{Kind: anp.DecidedByPerson, ID: "ops@registry"}, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := arb.SubmitDealEvent(context.Background(), res); err != nil {
		t.Fatalf("RESOLVE: %v", err)
	}
}

// dispute has d's buyer dispute it for reason.
func (d *signedDeal) dispute(t *testing.T, e *testEnv, reason string) {
	t.Helper()
	env := d.seal(t, e, d.b.Key, anp.TypeDispute, &anp.DisputeBody{Deal: d.dealHash(t), Reason: reason, Severity: 3, Evidence: []string{d.artifact.Terms.TranscriptHead}})
	if _, err := d.buyer.SubmitDealEvent(context.Background(), env); err != nil {
		t.Fatalf("DISPUTE: %v", err)
	}
}

// receipt has d's buyer confirm receipt.
func (d *signedDeal) receipt(t *testing.T, e *testEnv) {
	t.Helper()
	env := d.seal(t, e, d.b.Key, anp.TypeReceipt, &anp.ReceiptBody{Deal: d.dealHash(t)})
	if _, err := d.buyer.SubmitDealEvent(context.Background(), env); err != nil {
		t.Fatalf("RECEIPT: %v", err)
	}
}

// TestReputationOfALoggedMarketByHand runs 30 deals with three sellers
// through a real registry on a controlled clock — reliable.anp delivers
// all 10 on time (5 receipts), late.anp 4 on time and 6 after deliver_by,
// disputed.anp 6 on time, one never (breach, dispute, resolved for the
// buyer by rule), one dispute resolved for it, one split, one for the
// buyer by a person — and checks the served scores against the formula
// computed by hand, against a recomputation from the ledger's leaves, and
// after a restart.
func TestReputationOfALoggedMarketByHand(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DealSweep = 1000 * time.Hour }) // the test runs the sweep itself
	ctx := context.Background()
	sellers := map[string]*sellerStub{}
	for _, d := range []string{"reliable.anp", "late.anp", "disputed.anp"} {
		sellers[d] = e.addSeller(d)
	}
	deals := func(domain string, n int) []*signedDeal {
		out := make([]*signedDeal, n)
		for i := range out {
			out[i] = signDeal(t, e, sellers[domain], domain)
		}
		return out
	}
	t0 := e.clock.Now()
	reliable, late, disputed := deals("reliable.anp", 10), deals("late.anp", 10), deals("disputed.anp", 10)
	for i, d := range reliable {
		d.fulfil(t, e)
		if i < 5 {
			d.receipt(t, e)
		}
	}
	for _, d := range late[:4] {
		d.fulfil(t, e)
	}
	for _, d := range disputed[1:] {
		d.fulfil(t, e)
	}
	disputed[1].dispute(t, e, anp.ReasonNotAsDescribed)
	disputed[1].resolveAsPerson(t, e, anp.OutcomeForSeller)
	disputed[2].dispute(t, e, anp.ReasonNotAsDescribed)
	disputed[2].resolveAsPerson(t, e, anp.OutcomeSplit)
	disputed[3].dispute(t, e, anp.ReasonNotAsDescribed)
	disputed[3].resolveAsPerson(t, e, anp.OutcomeForBuyer)

	e.clock.Advance(anp.DefaultDeliveryWindow + time.Hour)
	t1 := e.clock.Now()
	for _, d := range late[4:] {
		d.fulfil(t, e) // after deliver_by: late
	}
	if _, err := e.srv.SweepDeals(ctx); err != nil { // the breach of disputed[0], and lapsed receipt windows
		t.Fatal(err)
	}
	disputed[0].dispute(t, e, anp.ReasonNonDelivery)
	e.clock.Advance(time.Duration(anp.NonDeliveryGrace)*time.Millisecond + time.Minute)
	t2 := e.clock.Now()
	if _, err := e.srv.SweepDeals(ctx); err != nil { // non_delivery_v1 resolves for the buyer
		t.Fatal(err)
	}

	served, err := e.client(e.root).Reputation(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if served.At != t2.UnixMilli() || served.Formula != reputation.FormulaVersion {
		t.Fatalf("report at %d formula %s, want the registry clock %d and %s", served.At, served.Formula, t2.UnixMilli(), reputation.FormulaVersion)
	}
	got := map[reputation.Party]reputation.Score{}
	for _, s := range served.Parties {
		got[s.Party] = s
	}

	// By hand. Every buyer is a fresh session key (weight 0), so a seller's
	// mass is min(2, Σ credit·value weight)·decay; each seller here has
	// credit above 2, so its mass is 2·decay since its last activity.
	v := handValue(agreedPrice)
	if v < 4.0/7 {
		t.Fatalf("value weight %v: the cases below assume credit above 2", v)
	}
	const y = 365 * 24 * time.Hour
	lateW := 0.0
	for range 6 {
		lateW += handDecay(t2, t1, y)
	}
	want := map[reputation.Party]float64{
		"reliable.anp": handScore(2*handDecay(t2, t0, 90*24*time.Hour), 1),
		"late.anp":     handScore(2*handDecay(t2, t1, 90*24*time.Hour), math.Pow(0.9, lateW)),
		"disputed.anp": handScore(2*handDecay(t2, t0, 90*24*time.Hour), math.Pow(0.5, handDecay(t2, t0, y)+1)*math.Pow(0.6, handDecay(t2, t1, y))),
	}
	for p, w := range want {
		if s := got[p]; math.Abs(s.Score-w) > 1e-6 {
			t.Errorf("%s scores %.6f, by hand %.6f (evidence %+v)", p, s.Score, w, s.Evidence)
		}
	}
	checkEvidence(t, got["reliable.anp"].Evidence, anp.ReputationEvidence{Deals: 10, Completed: 10, OnTime: 10, Counterparties: 10, LastActivity: t0.UnixMilli()})
	checkEvidence(t, got["late.anp"].Evidence, anp.ReputationEvidence{Deals: 10, Completed: 10, OnTime: 4, Late: 6, Counterparties: 10, LastActivity: t1.UnixMilli()})
	checkEvidence(t, got["disputed.anp"].Evidence, anp.ReputationEvidence{Deals: 10, Completed: 8, OnTime: 9, Breaches: 1, DisputesAgainst: 4,
		DisputesWon: 1, DisputesLost: 2, DisputesSplit: 1, Counterparties: 10, LastActivity: t0.UnixMilli()})
	// Buyers: one that received, one that won the non-delivery dispute,
	// one that lost a dispute. The first is weighed by reliable.anp's
	// standing without it: base mass 9·min(3, v) decayed, weight g(that).
	buyerOf := func(d *signedDeal) reputation.Party { return reputation.Party("key:" + d.artifact.Terms.BuyerKey) }
	wReliable := handGrowth(9 * math.Min(3, v) * handDecay(t2, t0, 90*24*time.Hour))
	buyers := map[reputation.Party]float64{
		buyerOf(reliable[0]): handScore((math.Min(2, v)+v*wReliable)*handDecay(t2, t0, 90*24*time.Hour), 1),
		buyerOf(disputed[0]): handScore(math.Min(2, v)*handDecay(t2, t1, 90*24*time.Hour), 1),
		buyerOf(disputed[1]): handScore(0, math.Pow(0.5, handDecay(t2, t0, y))),
	}
	for p, w := range buyers {
		if s := got[p]; math.Abs(s.Score-w) > 1e-6 {
			t.Errorf("buyer %s scores %.6f, by hand %.6f (evidence %+v)", p, s.Score, w, s.Evidence)
		}
	}
	if ranked := rankOf(t, e); len(ranked) != 3 || ranked[0] != "reliable.anp" || ranked[1] != "late.anp" || ranked[2] != "disputed.anp" {
		t.Errorf("discovery ranks %v, want reliable, late, disputed", ranked)
	}

	// The registry read the deals it notarised from what it remembered of
	// their leaves, and a recomputation from the leaves' bytes gives the
	// same report.
	if n := len(e.srv.ownLeaves.m); n != 0 {
		t.Errorf("%d appended leaves were never read from memory", n)
	}
	recomputed := recomputeFromLedger(t, e, t2)
	recomputed.LogSize = served.LogSize
	if !sameReport(*served, recomputed) {
		t.Fatalf("the registry serves another report than its leaves give")
	}
	// And the registry rebuilds it after a restart.
	e.restart()
	again, err := e.client(e.root).Reputation(ctx, t2)
	if err != nil || !sameReport(*served, *again) {
		t.Fatalf("after a restart: %v, or another report", err)
	}
	t.Logf("by hand and served: reliable %.6f, late %.6f, disputed %.6f over %d log entries",
		got["reliable.anp"].Score, got["late.anp"].Score, got["disputed.anp"].Score, served.LogSize)
}

func checkEvidence(t *testing.T, got, want anp.ReputationEvidence) {
	t.Helper()
	if got != want {
		t.Errorf("evidence\n got %+v\nwant %+v", got, want)
	}
}

// rankOf is the order of discovery in category kitchen.
func rankOf(t *testing.T, e *testEnv) []string {
	t.Helper()
	order, _ := ranking(t, e.client(e.root))
	return order
}

// recomputeFromLedger decodes every leaf of the ledger into a new book.
func recomputeFromLedger(t *testing.T, e *testEnv, at time.Time) reputation.Report {
	t.Helper()
	ctx := context.Background()
	size, err := e.ledger.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := e.ledger.Leaves(ctx, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	b := reputation.NewBook()
	for i, l := range leaves {
		facts, err := reputation.FactsFromLeaf(uint64(i), l)
		if err != nil {
			continue
		}
		for _, f := range facts {
			if err := b.Apply(f); err != nil {
				t.Errorf("leaf %d: %v", i, err)
			}
		}
	}
	return b.Report(at)
}

func sameReport(a, b reputation.Report) bool {
	if a.At != b.At || a.LogSize != b.LogSize || a.Facts != b.Facts || len(a.Parties) != len(b.Parties) || len(a.Pairs) != len(b.Pairs) {
		return false
	}
	for i := range a.Parties {
		if a.Parties[i] != b.Parties[i] {
			return false
		}
	}
	for i := range a.Pairs {
		if a.Pairs[i] != b.Pairs[i] {
			return false
		}
	}
	return true
}

// TestProposePresentsOnlyItsOwnIdentity: a PROPOSE may name the buyer
// identity that authenticated, never another one; a deal presenting the
// identity is logged under it (id:KEY) and scored there.
func TestProposePresentsOnlyItsOwnIdentity(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	id := anptest.NewKey(t)
	c := e.client(id)
	ctx := context.Background()

	other := newBuyerSession(t, e.clock, "pans.anp")
	body := proposeBody()
	body.BuyerIdentity = anptest.PubHex(anptest.NewKey(t))
	if _, err := c.Relay(ctx, "pans.anp", other.Seal(anp.TypePropose, body)); anp.CodeOf(err) != anp.CodeForbidden {
		t.Fatalf("PROPOSE presenting another identity: %v, want forbidden", err)
	}

	b := newBuyerSession(t, e.clock, "pans.anp")
	body.BuyerIdentity = anptest.PubHex(id)
	b.relay(c, b.Seal(anp.TypePropose, body))
	b.relay(c, b.Seal(anp.TypeCounter, anp.OfferBody{Price: agreedPrice, Turn: 2}))
	terms := b.Terms(b.Tr.Envelopes[3], body, anptest.PubHex(seller.key))
	unnamed := anptest.SignDeal(t, terms, b.Key, seller.key) // the PROPOSE named the identity, the deal does not
	terms.BuyerIdentity = body.BuyerIdentity
	a := anptest.SignDeal(t, terms, b.Key, nil)
	b.commit(t, c, a)
	if _, err := c.Notarize(ctx, unnamed); anp.CodeOf(err) != anp.CodeConflict {
		t.Fatalf("a deal without the identity its PROPOSE named: %v, want refused", err)
	}
	if _, err := c.Notarize(ctx, a); err != nil {
		t.Fatalf("Notarize: %v", err)
	}
	rep, err := c.PartyReputation(ctx, "id:"+anptest.PubHex(id), time.Time{})
	if err != nil || rep.Score.Evidence.Deals != 1 || rep.Score.Evidence.Awaiting != 1 {
		t.Fatalf("the identity's reputation: %+v, %v; want its one deal", rep, err)
	}
}
