package registry

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// closeDeal negotiates, signs, commits and notarises one deal with seller.
func closeDeal(t *testing.T, e *testEnv, c *Client, seller *sellerStub) *buyerSession {
	t.Helper()
	b := negotiate(t, e, c, seller.domain)
	a := anptest.SignDeal(t, b.terms(anptest.PubHex(seller.key), 4), b.Key, nil)
	b.commit(t, c, a)
	if _, err := c.Notarize(context.Background(), a); err != nil {
		t.Fatalf("Notarize: %v", err)
	}
	return b
}

// oneDealScore is the reputation of a seller whose one deal, at price,
// delivered on time, was with a buyer session key never seen before
// (docs/reputation.md): mass min(2, value weight), counterparty weight 0,
// no decay.
func oneDealScore(price anp.Money) float64 {
	v := 1 + math.Min(2, math.Log10(1+price.Major())/2)
	l := math.Log(1 + math.Min(2, v))
	return math.Round(100*(0.5+0.5*l/(l+3))*1e6) / 1e6
}

// openAbandoned opens n sessions with domain through c and never continues them.
func openAbandoned(t *testing.T, e *testEnv, c *Client, domain string, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for range n {
		b := newBuyerSession(t, e.clock, domain)
		b.relay(c, b.Seal(anp.TypePropose, proposeBody()))
		ids = append(ids, b.Session)
	}
	return ids
}

// ranking returns the discovered domains in rank order and their scores.
func ranking(t *testing.T, c *Client) ([]string, map[string]float64) {
	t.Helper()
	ls, err := c.Discover(context.Background(), "kitchen", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	scores := map[string]float64{}
	for _, l := range ls {
		order = append(order, l.Binding.Domain)
		scores[l.Binding.Domain] = l.Stats.Score
	}
	return order, scores
}

// TestAbandonedSessionsDoNotMoveRank: 500 sessions opened and abandoned by
// one buyer (the per-identity limit off, as if spread over many
// identities) leave a seller's score and rank where its deals put them.
func TestAbandonedSessionsDoNotMoveRank(t *testing.T) {
	const abandoned = 500
	e := newEnv(t, func(c *Config) { c.SessionRate = -1 })
	alpha := e.addSeller("alpha.anp")
	e.addSeller("bravo.anp")
	c := e.client(anptest.NewKey(t))
	deal := signDeal(t, e, alpha, "alpha.anp")
	deal.fulfil(t, e)
	order, before := ranking(t, c)
	if want := oneDealScore(deal.artifact.Terms.Price); !slices.Equal(order, []string{"alpha.anp", "bravo.anp"}) || before["alpha.anp"] != want || before["bravo.anp"] != 50 {
		t.Fatalf("before: rank %v scores %v, want alpha (%v) then bravo (50)", order, before, want)
	}

	attacker := e.client(anptest.NewKey(t))
	openAbandoned(t, e, attacker, "alpha.anp", abandoned)
	order, after := ranking(t, c)
	if !slices.Equal(order, []string{"alpha.anp", "bravo.anp"}) || after["alpha.anp"] != before["alpha.anp"] {
		t.Fatalf("after %d abandoned sessions: rank %v scores %v, want them unchanged (%v)", abandoned, order, after, before)
	}
	l, _ := e.srv.directory.listing("alpha.anp")
	if l.Stats.Sessions != abandoned+1 || l.Stats.Deals != 1 {
		t.Fatalf("alpha stats %+v, want %d sessions observed and 1 deal", l.Stats, abandoned+1)
	}
	t.Logf("%d abandoned sessions: alpha's reputation stays %.6f and rank 1, above bravo's %.6f (a ratio of deals to sessions opened would give it %.3f)",
		abandoned, after["alpha.anp"], after["bravo.anp"], float64(l.Stats.Deals+1)/float64(l.Stats.Sessions+2))
}

// TestSessionCreationRateLimitedPerBuyer: one identity opens its burst of
// sessions and is then refused rate_limited, while it can still continue
// its open sessions and another buyer opens sessions; the bucket refills.
func TestSessionCreationRateLimitedPerBuyer(t *testing.T) {
	const burst = 10
	e := newEnv(t, func(c *Config) { c.SessionBurst = burst })
	e.addSeller("pans.anp")
	hog := e.client(anptest.NewKey(t))
	first := newBuyerSession(t, e.clock, "pans.anp")
	first.relay(hog, first.Seal(anp.TypePropose, proposeBody()))
	openAbandoned(t, e, hog, "pans.anp", burst-1)
	refused := 0
	for i := range 5 {
		b := newBuyerSession(t, e.clock, "pans.anp")
		_, err := hog.Relay(context.Background(), "pans.anp", b.Seal(anp.TypePropose, proposeBody()))
		if anp.CodeOf(err) != anp.CodeRateLimited || !strings.Contains(err.Error(), "too many new sessions for your identity") {
			t.Fatalf("session %d past the burst: %v, want rate_limited", burst+i+1, err)
		}
		refused++
	}
	// Continuing a session is not a new session.
	first.relay(hog, first.Seal(anp.TypeQuery, anp.NoteBody{Message: "still there?"}))
	other := e.client(anptest.NewKey(t))
	openAbandoned(t, e, other, "pans.anp", 3)
	e.clock.Advance(time.Second / time.Duration(DefaultSessionRate))
	openAbandoned(t, e, hog, "pans.anp", 1)
	t.Logf("one identity: %d sessions opened, %d refused rate_limited; another buyer opened 3; one more after a second", burst, refused)
}

// sessionsStored counts the witnessed sessions in the Ledger and their bytes.
func (e *testEnv) sessionsStored(t *testing.T) (n, bytes int) {
	t.Helper()
	kvs, err := e.ledger.List(context.Background(), bucketSessions)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		bytes += len(kv.Value)
	}
	return len(kvs), bytes
}

// TestIdleSessionsAreDeleted: sessions idle longer than SessionTTL leave the
// Ledger (notarised deals stay); the index survives a restart, and the
// background sweep does the same work.
func TestIdleSessionsAreDeleted(t *testing.T) {
	const abandoned = 50
	e := newEnv(t, func(c *Config) { c.SessionTTL = time.Hour; c.SessionRate = -1 })
	seller := e.addSeller("pans.anp")
	c := e.client(anptest.NewKey(t))
	ctx := context.Background()
	ids := openAbandoned(t, e, c, "pans.anp", abandoned)
	deal := closeDeal(t, e, c, seller)
	e.clock.Advance(30 * time.Minute)
	recent := newBuyerSession(t, e.clock, "pans.anp")
	recent.relay(c, recent.Seal(anp.TypePropose, proposeBody()))
	nBefore, bytesBefore := e.sessionsStored(t)
	if nBefore != abandoned+2 {
		t.Fatalf("%d sessions stored, want %d", nBefore, abandoned+2)
	}

	e.clock.Advance(31 * time.Minute)
	deleted, err := e.srv.sweepSessions(ctx)
	if err != nil || deleted != abandoned {
		t.Fatalf("sweep deleted %d (%v), want the %d abandoned sessions", deleted, err, abandoned)
	}
	nAfter, bytesAfter := e.sessionsStored(t)
	if nAfter != 2 || e.witnessLen(deal.Session) == 0 || e.witnessLen(recent.Session) == 0 {
		t.Fatalf("%d sessions stored after the sweep, want the deal and the recent session", nAfter)
	}
	_, err = c.Relay(ctx, "pans.anp", newBuyerSession(t, e.clock, "pans.anp").Seal(anp.TypePropose, proposeBody()))
	if err != nil {
		t.Fatalf("a new session after the sweep: %v", err)
	}
	if e.witnessLen(ids[0]) != 0 {
		t.Fatal("an abandoned session is still stored")
	}

	// After a restart the index is rebuilt from the Ledger, and the
	// background sweep deletes what went idle since.
	e.cfg.SessionSweep = 10 * time.Millisecond
	e.restart()
	e.clock.Advance(2 * time.Hour)
	eventually(t, "the background sweep", func() bool { n, _ := e.sessionsStored(t); return n == 1 })
	if e.witnessLen(deal.Session) == 0 {
		t.Fatal("the notarised deal's session was deleted")
	}
	t.Logf("sessions in the ledger: %d (%d bytes) → %d (%d bytes) after the sweep; 1 (the notarised deal) an idle period later",
		nBefore, bytesBefore, nAfter, bytesAfter)
}

// TestAnotherBuyersSessionIsNotFound: a session id of another identity is
// not_found for every buyer envelope, PROPOSE included; the owner re-using
// its own id gets conflict.
func TestAnotherBuyersSessionIsNotFound(t *testing.T) {
	e, owner, b := proposedSession(t)

	stranger := e.client(anptest.NewKey(t))
	s := newBuyerSession(t, e.clock, "pans.anp")
	s.Session = b.Session
	for _, env := range []*anp.Envelope{s.Seal(anp.TypePropose, proposeBody()), b.Seal(anp.TypeCounter, anp.OfferBody{Price: anptest.USD(5000), Turn: 2})} {
		_, err := stranger.Relay(context.Background(), "pans.anp", env)
		if anp.CodeOf(err) != anp.CodeNotFound || !strings.Contains(err.Error(), "session "+b.Session+" not found") {
			t.Fatalf("%s by another identity into its session: %v, want not_found", env.Type, err)
		}
	}
	again := newBuyerSession(t, e.clock, "pans.anp")
	again.Session = b.Session
	if _, err := owner.Relay(context.Background(), "pans.anp", again.Seal(anp.TypePropose, proposeBody())); anp.CodeOf(err) != anp.CodeConflict {
		t.Fatalf("the owner re-using its session id: %v, want conflict", err)
	}
}
