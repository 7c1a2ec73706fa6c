package registry

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// signedDeal is one notarised deal of the lifecycle tests.
type signedDeal struct {
	b        *buyerSession
	buyer    *Client // the buyer identity's client
	seller   *sellerStub
	artifact *anp.Artifact
}

// signDeal negotiates, commits and notarises a deal with seller; the deal
// carries its commitment (the default windows: the proposal names none).
func signDeal(t *testing.T, e *testEnv, seller *sellerStub, domain string) *signedDeal {
	t.Helper()
	c := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	b := negotiate(t, e, c, domain)
	terms := b.terms(anptest.PubHex(seller.key), 4)
	cm, err := anp.CommitmentFor(terms.Terms, terms.AgreedAt)
	if err != nil {
		t.Fatal(err)
	}
	terms.Commitment = &cm
	a := anptest.SignDeal(t, terms, b.Key, nil)
	b.commit(t, c, a)
	out, err := c.Notarize(context.Background(), a)
	if err != nil {
		t.Fatalf("Notarize: %v", err)
	}
	return &signedDeal{b: b, buyer: c, seller: seller, artifact: out}
}

// status is the deal's status as client c sees it.
func (d *signedDeal) status(t *testing.T, c *Client) *anp.DealStatus {
	t.Helper()
	st, err := c.DealStatus(context.Background(), d.artifact.Terms.SessionID)
	if err != nil {
		t.Fatalf("DealStatus: %v", err)
	}
	return st
}

// seal signs the next event of the deal with key, addressed as the
// protocol says, at the test clock.
func (d *signedDeal) seal(t *testing.T, e *testEnv, key ed25519.PrivateKey, typ anp.MsgType, body any) *anp.Envelope {
	t.Helper()
	l := d.status(t, d.buyer).Lifecycle
	to := l.SellerDomain
	if anptest.PubHex(key) == l.SellerKey {
		to = l.BuyerKey
	}
	env, err := anp.Seal(key, anp.EnvelopeSpec{Type: typ, Session: l.Session, Seq: l.Seq + 1, Prev: l.Head, To: to, Body: body, Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func (d *signedDeal) dealHash(t *testing.T) string {
	t.Helper()
	h, err := anp.DealHash(d.artifact)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fulfil has the seller log its FULFILL.
func (d *signedDeal) fulfil(t *testing.T, e *testEnv) {
	t.Helper()
	env := d.seal(t, e, d.seller.key, anp.TypeFulfill, &anp.FulfilBody{Deal: d.dealHash(t), Evidence: anp.HashBytes([]byte("tracking 1Z999"))})
	if _, err := e.client(d.seller.key).SubmitDealEvent(context.Background(), env); err != nil {
		t.Fatalf("FULFILL: %v", err)
	}
}

// verifyOffline replays the deal's logged events with anp.VerifyLifecycle.
func (d *signedDeal) verifyOffline(t *testing.T, e *testEnv) *anp.Lifecycle {
	t.Helper()
	st := d.status(t, d.buyer)
	l, err := anp.VerifyLifecycle(d.artifact, anp.VerifyOptions{RootKey: e.srv.RootKey()}, e.srv.keys.chain(), st.Events)
	if err != nil {
		t.Fatalf("VerifyLifecycle: %v", err)
	}
	if l.State != st.Lifecycle.State || len(l.Events) != len(st.Lifecycle.Events) {
		t.Fatalf("offline replay: %s with %d events, the registry says %s with %d", l.State, len(l.Events), st.Lifecycle.State, len(st.Lifecycle.Events))
	}
	return l
}

func TestDealLifecycleThroughTheRegistry(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	ctx := context.Background()

	// On time: FULFILL, then RECEIPT.
	d := signDeal(t, e, seller, "pans.anp")
	if st := d.status(t, d.buyer); st.Lifecycle.State != anp.StateAwaitingDelivery || st.Lifecycle.Commitment != *d.artifact.Terms.Commitment {
		t.Fatalf("new deal: %+v", st.Lifecycle)
	}
	d.fulfil(t, e)
	receipt := d.seal(t, e, d.b.Key, anp.TypeReceipt, &anp.ReceiptBody{Deal: d.dealHash(t)})
	first, err := d.buyer.SubmitDealEvent(ctx, receipt)
	if err != nil {
		t.Fatalf("RECEIPT: %v", err)
	}
	again, err := d.buyer.SubmitDealEvent(ctx, receipt) // a retry gets the same entry
	if err != nil || again.LeafIndex != first.LeafIndex {
		t.Fatalf("RECEIPT again: %v, leaf %d vs %d", err, again.LeafIndex, first.LeafIndex)
	}
	if l := d.verifyOffline(t, e); l.State != anp.StateReceived || l.Late {
		t.Fatalf("on-time deal: %s late=%v", l.State, l.Late)
	}
	if _, err := e.client(anptest.NewKey(t)).DealStatus(ctx, d.artifact.Terms.SessionID); anp.CodeOf(err) != anp.CodeNotFound {
		t.Fatalf("a stranger reads the deal: %v", err)
	}

	// Never delivered: the sweep records the breach, the buyer disputes,
	// the seller's second dispute is refused, the rule resolves for the buyer.
	nd := signDeal(t, e, seller, "pans.anp")
	e.clock.Advance(anp.DefaultDeliveryWindow + time.Minute)
	if n, err := e.srv.SweepDeals(ctx); err != nil || n != 1 {
		t.Fatalf("sweep past deliver_by: %d events, %v; want the one breach", n, err)
	}
	if st := nd.status(t, nd.buyer); st.Lifecycle.State != anp.StateBreached {
		t.Fatalf("undelivered deal is %s", st.Lifecycle.State)
	}
	silent := signDeal(t, e, seller, "pans.anp")
	silent.fulfil(t, e)
	dispute := nd.seal(t, e, nd.b.Key, anp.TypeDispute, &anp.DisputeBody{Deal: nd.dealHash(t), Reason: anp.ReasonNonDelivery, Severity: 4, Evidence: []string{nd.artifact.Terms.TranscriptHead}})
	if _, err := nd.buyer.SubmitDealEvent(ctx, dispute); err != nil {
		t.Fatalf("DISPUTE: %v", err)
	}
	second := nd.seal(t, e, seller.key, anp.TypeDispute, &anp.DisputeBody{Deal: nd.dealHash(t), Reason: anp.ReasonUnauthorisedChange, Severity: 1, Evidence: []string{nd.artifact.Terms.TranscriptHead}})
	if _, err := e.client(seller.key).SubmitDealEvent(ctx, second); !errors.Is(err, anp.ErrDisputeExists) && anp.CodeOf(err) != anp.CodeConflict {
		t.Fatalf("second dispute: %v, want conflict", err)
	}
	e.clock.Advance(47 * time.Hour)
	if n, err := e.srv.SweepDeals(ctx); err != nil || n != 0 {
		t.Fatalf("sweep inside the grace period: %d, %v", n, err)
	}
	e.clock.Advance(time.Hour)
	if n, err := e.srv.SweepDeals(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after the grace period: %d, %v", n, err)
	}
	if l := nd.verifyOffline(t, e); l.State != anp.StateResolved || l.Resolution.Outcome != anp.OutcomeForBuyer || l.Resolution.DecidedBy.ID != anp.RuleNonDelivery || !l.Breached {
		t.Fatalf("undelivered deal: %+v", l)
	}

	// A dispute a person decides: the arbiter key signs it.
	disputed2 := signDeal(t, e, seller, "pans.anp")
	disputed2.fulfil(t, e)
	dsp := disputed2.seal(t, e, disputed2.b.Key, anp.TypeDispute, &anp.DisputeBody{Deal: disputed2.dealHash(t), Reason: anp.ReasonNotAsDescribed, Severity: 2, Evidence: []string{disputed2.artifact.Terms.TranscriptHead}})
	if _, err := disputed2.buyer.SubmitDealEvent(ctx, dsp); err != nil {
		t.Fatalf("DISPUTE: %v", err)
	}
	arb := e.client(e.srv.arbiter)
	list, err := arb.Disputes(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("Disputes: %+v, %v", list, err)
	}
	if _, err := disputed2.buyer.Disputes(ctx); anp.CodeOf(err) != anp.CodeForbidden {
		t.Fatalf("a buyer lists disputes: %v", err)
	}
	st, err := arb.DealStatus(ctx, disputed2.artifact.Terms.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := SealResolve(e.srv.arbiter, &st.Lifecycle, anp.OutcomeForSeller, anp.Decider{Kind: anp.DecidedByPerson, ID: "ops@pans-registry"}, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := arb.SubmitDealEvent(ctx, res); err != nil {
		t.Fatalf("RESOLVE: %v", err)
	}
	if l := disputed2.verifyOffline(t, e); l.State != anp.StateResolved || l.Resolution.Outcome != anp.OutcomeForSeller || l.Resolution.DecidedBy.Kind != anp.DecidedByPerson {
		t.Fatalf("person-resolved deal: %+v", l.Resolution)
	}

	// Fulfilled on time, then silence: the receipt window lapses.
	e.clock.Advance(anp.DefaultReceiptWindow)
	if n, err := e.srv.SweepDeals(ctx); err != nil || n != 1 {
		t.Fatalf("sweep past the receipt window: %d, %v", n, err)
	}
	if l := silent.verifyOffline(t, e); l.State != anp.StateReceived || l.Events[len(l.Events)-1].Kind != anp.EventLapse {
		t.Fatalf("silent buyer: %s", l.State)
	}

	// Everything survives a restart.
	e.restart()
	nd.buyer = NewClient(e.ts.URL, nd.buyer.identity, ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	if l := nd.verifyOffline(t, e); l.State != anp.StateResolved {
		t.Fatalf("after restart: %s", l.State)
	}
	sameFactsInBothReadings(t, e) // every kind of event, by every performer
}

func TestDealEventRefusalsChangeNothing(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	ctx := context.Background()
	d := signDeal(t, e, seller, "pans.anp")
	size := e.srv.tree.size()
	before := d.status(t, d.buyer).Lifecycle

	forged := d.seal(t, e, seller.key, anp.TypeFulfill, &anp.FulfilBody{Deal: d.dealHash(t), Evidence: anp.HashBytes([]byte("x"))})
	forged.Sig = d.seal(t, e, seller.key, anp.TypeFulfill, &anp.FulfilBody{Deal: d.dealHash(t), Evidence: anp.HashBytes([]byte("y"))}).Sig
	outOfOrder := d.seal(t, e, seller.key, anp.TypeFulfill, &anp.FulfilBody{Deal: d.dealHash(t), Evidence: anp.HashBytes([]byte("x"))})
	outOfOrder.Seq++
	outOfOrder.Sig = ""
	sig, _ := anp.Sign(seller.key, anp.PurposeEnvelope, outOfOrder)
	outOfOrder.Sig = sig
	badEvidence := d.seal(t, e, d.b.Key, anp.TypeDispute, &anp.DisputeBody{Deal: d.dealHash(t), Reason: anp.ReasonNonDelivery, Severity: 1, Evidence: []string{anp.HashBytes([]byte("not an envelope"))}})
	for _, tc := range []struct {
		name string
		c    *Client
		env  *anp.Envelope
		code anp.Code
	}{
		{"forged FULFILL", e.client(seller.key), forged, anp.CodeBadSignature},
		{"out of order", e.client(seller.key), outOfOrder, anp.CodeOutOfOrder},
		{"receipt before fulfil", d.buyer, d.seal(t, e, d.b.Key, anp.TypeReceipt, &anp.ReceiptBody{Deal: d.dealHash(t)}), anp.CodeBadState},
		{"FULFILL signed by the buyer", d.buyer, d.seal(t, e, d.b.Key, anp.TypeFulfill, &anp.FulfilBody{Deal: d.dealHash(t), Evidence: anp.HashBytes(nil)}), anp.CodeBadSignature},
		{"evidence outside the session", d.buyer, badEvidence, anp.CodeBadRequest},
		{"a stranger's token", e.client(anptest.NewKey(t)), d.seal(t, e, d.b.Key, anp.TypeDispute, &anp.DisputeBody{Deal: d.dealHash(t), Reason: anp.ReasonNonDelivery, Severity: 1, Evidence: []string{d.artifact.Terms.TranscriptHead}}), anp.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.c.SubmitDealEvent(ctx, tc.env); anp.CodeOf(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
	after := d.status(t, d.buyer).Lifecycle
	if e.srv.tree.size() != size || after.State != before.State || after.Seq != before.Seq || len(after.Events) != 0 {
		t.Fatalf("a refused event changed something: log %d -> %d, %+v", size, e.srv.tree.size(), after)
	}

	// An event for a session that has no deal.
	c := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	open := negotiate(t, e, c, "pans.anp")
	env, err := anp.Seal(open.Key, anp.EnvelopeSpec{Type: anp.TypeDispute, Session: open.Session, Seq: 5, Prev: open.Tr.Head, To: "pans.anp", Now: e.clock.Now(),
		Body: &anp.DisputeBody{Deal: d.dealHash(t), Reason: anp.ReasonNonDelivery, Severity: 1, Evidence: []string{open.Tr.Head}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitDealEvent(ctx, env); !errors.Is(err, anp.ErrNoDeal) && anp.CodeOf(err) != anp.CodeBadState {
		t.Fatalf("dispute without a deal: %v", err)
	}
	r := e.do(http.MethodPost, "/v1/deals/"+d.artifact.Terms.SessionID+"/events", `{"v":1}`, bearerHeader(e.token(seller.key)))
	if r.status != http.StatusBadRequest {
		t.Fatalf("malformed envelope: HTTP %d %s", r.status, r.body)
	}
}
