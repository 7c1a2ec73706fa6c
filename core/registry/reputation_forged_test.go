package registry

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
)

// forgeEvent is what a dishonest operator can do with the registry's own
// keys: countersign a deal event and append it to the log, past the
// lifecycle rules.
func forgeEvent(t *testing.T, e *testEnv, ev anp.DealEvent) {
	t.Helper()
	ctx := context.Background()
	priv, entry, err := e.srv.keys.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := anp.CountersignDealEvent(ev, priv, entry, e.srv.now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := leaf.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := e.srv.logLeaf(ctx, data); err != nil {
		t.Fatal(err)
	}
}

// recomputed reads the registry's whole log into a book, each leaf's
// facts given by read.
func recomputed(t *testing.T, e *testEnv, read func(index uint64, data []byte) ([]reputation.Fact, error)) *reputation.Book {
	t.Helper()
	leaves, err := e.ledger.Leaves(context.Background(), 0, e.srv.tree.size())
	if err != nil {
		t.Fatal(err)
	}
	book := reputation.NewBook()
	for i, leaf := range leaves {
		facts, _ := read(uint64(i), leaf)
		for _, f := range facts {
			_ = book.Apply(f)
		}
	}
	return book
}

// TestRecomputedReputationRefusesForgedEvents: an operator appends deal
// events the lifecycle rules refuse — a breach the day after the deal, long
// before its deliver_by, and a dispute "by the buyer" signed by a key that
// is no party's. The registry serves figures that count them, and so does
// a reading of the log that checks each leaf on its own (FactsFromLeaf);
// the reading that replays each deal's lifecycle (reputation.Replayer)
// counts neither, and counts the honest deal's delivery like the others.
func TestRecomputedReputationRefusesForgedEvents(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	honest := signDeal(t, e, seller, "pans.anp")
	honest.fulfil(t, e)
	victim := signDeal(t, e, seller, "pans.anp")
	e.clock.Advance(24 * time.Hour)

	l := victim.status(t, victim.buyer).Lifecycle
	of := anp.DealEvent{Session: l.Session, Deal: l.Deal, DealLeaf: l.DealLeaf, SellerDomain: l.SellerDomain}
	breach := of
	breach.Kind, breach.By, breach.Rule = anp.EventBreach, anp.ByRegistry, anp.RuleBreach
	forgeEvent(t, e, breach)
	dispute := of
	dispute.Kind, dispute.By = anp.EventDispute, anp.ByBuyer
	dispute.Envelope = victim.seal(t, e, anptest.NewKey(t), anp.TypeDispute, &anp.DisputeBody{Deal: l.Deal, Reason: anp.ReasonNonDelivery, Severity: 5, Evidence: []string{victim.artifact.Terms.TranscriptHead}})
	forgeEvent(t, e, dispute)

	var served reputation.Evidence
	if err := e.srv.withReputationAt(context.Background(), time.Time{}, func(b *reputation.Book, _ uint64, now time.Time) {
		served = b.PartyReport("pans.anp", now).Score.Evidence
	}); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	perLeaf := recomputed(t, e, reputation.FactsFromLeaf).PartyReport("pans.anp", now).Score.Evidence
	replayed := recomputed(t, e, reputation.NewReplayer(e.srv.RootKey(), e.srv.keys.chain()).Facts).PartyReport("pans.anp", now).Score.Evidence
	if served.Breaches != 1 || served.DisputesAgainst != 1 || perLeaf != served {
		t.Fatalf("served %+v, read leaf by leaf %+v; want both to count the forged breach and dispute", served, perLeaf)
	}
	if replayed.Breaches != 0 || replayed.DisputesAgainst != 0 || replayed.Deals != 2 || replayed.OnTime != 1 {
		t.Fatalf("replayed %+v; want 2 deals, the honest one delivered on time, no breach and no dispute", replayed)
	}
}

// sameFactsInBothReadings fails unless the facts of every leaf of e's log
// are the same read leaf by leaf (FactsFromLeaf) and replayed through the
// deals' lifecycles (reputation.Replayer): for a log the registry wrote by
// its rules, the replay refuses nothing.
func sameFactsInBothReadings(t *testing.T, e *testEnv) {
	t.Helper()
	leaves, err := e.ledger.Leaves(context.Background(), 0, e.srv.tree.size())
	if err != nil {
		t.Fatal(err)
	}
	r := reputation.NewReplayer(e.srv.RootKey(), e.srv.keys.chain())
	events := 0
	for i, leaf := range leaves {
		perLeaf, err1 := reputation.FactsFromLeaf(uint64(i), leaf)
		replayed, err2 := r.Facts(uint64(i), leaf)
		if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(perLeaf, replayed) {
			t.Fatalf("leaf %d: read on its own %+v (%v), replayed %+v (%v)", i, perLeaf, err1, replayed, err2)
		}
		if l, err := anp.ParseLogLeaf(leaf); err == nil && l.DealEvent != nil {
			events++
		}
	}
	if events == 0 {
		t.Fatal("the log holds no deal event to compare")
	}
}

// TestFullReputationReportsAreRateLimitedPerSource: the report of every
// party grows with the market, so one source gets its burst of them and
// then 429 rate_limited with Retry-After; one party's report from the same
// source, and the full report from another source, are still answered.
func TestFullReputationReportsAreRateLimitedPerSource(t *testing.T) {
	e := newEnv(t, nil) // default limits; the fake clock stands still, so no token comes back
	e.addSeller("pans.anp")
	get := func(hc *http.Client, route string) *http.Response {
		t.Helper()
		resp, err := hc.Get(e.ts.URL + route)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	attacker := sourceClient(t, attackerSource, 1)
	byStatus := map[int]int{}
	var retryAfter string
	for range DefaultReportBurst + 5 {
		resp := get(attacker, anp.RouteReputation)
		byStatus[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if byStatus[http.StatusOK] != DefaultReportBurst || byStatus[http.StatusTooManyRequests] != 5 || retryAfter != "1" {
		t.Fatalf("answers %v (Retry-After %q), want %d × 200 then 5 × 429 with Retry-After 1", byStatus, retryAfter, DefaultReportBurst)
	}
	if resp := get(attacker, "/v1/reputation/pans.anp"); resp.StatusCode != http.StatusOK {
		t.Fatalf("one party's report from the limited source: %d", resp.StatusCode)
	}
	if resp := get(http.DefaultClient, anp.RouteReputation); resp.StatusCode != http.StatusOK {
		t.Fatalf("the full report from another source: %d", resp.StatusCode)
	}
}
