package buyer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// releasedMarket runs one asynchronous seller whose answers wait until the
// test sends on the returned channel.
func releasedMarket(t *testing.T) (*demomarket.Market, chan<- struct{}) {
	t.Helper()
	release := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := demomarket.Start(ctx, demomarket.Options{Difficulty: 4, Logger: zerolog.Nop(), AsyncDelay: time.Nanosecond, AsyncRelease: release,
		Sellers: []demomarket.SellerSpec{{Domain: "slow-shop.anp", DisplayName: "Slow Shop (demo)", Categories: []string{"kitchen"},
			Modes: []anp.Mode{anp.ModeC}, Async: true, Policy: seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(8000), Exponent: 1, MaxTurns: 6}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, release
}

// pendingCounter opens a session with the released seller and sends a
// counter it has not answered yet.
func pendingCounter(t *testing.T, c *buyer.Core) buyer.Session {
	t.Helper()
	ctx := ctxT(t)
	s, err := c.ProposeDeal(ctx, "ANP/C.slow-shop.anp", buyer.Constraints{Item: "Kettle", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c.Counter(ctx, s.ID, anptest.USD(8500), ""); err != nil {
		t.Fatal(err)
	}
	if !s.AwaitingSeller || s.Answered() {
		t.Fatalf("the counter was answered at once: %+v", s)
	}
	return s
}

// TestAwaitAnswerReturnsTheSellersAnswer: the wait ends when the seller's
// callback is saved, with the answered snapshot; the changed hook sees it.
func TestAwaitAnswerReturnsTheSellersAnswer(t *testing.T) {
	m, release := releasedMarket(t)
	c := newCore(t, m, coreOpts{})
	s := pendingCounter(t, c)
	hooked := make(chan string, 16)
	remove := c.OnSessionChange(func(id string) {
		select {
		case hooked <- id:
		default:
		}
	})
	defer remove()
	type result struct {
		s   buyer.Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := c.AwaitAnswer(ctxT(t), s.ID, buyer.MaxAnswerWait, nil)
		done <- result{got, err}
	}()
	release <- struct{}{} // the seller decides now
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.s.AwaitingSeller || r.s.State != buyer.StateCountered || r.s.LastSellerPrice == nil || r.s.Version == s.Version {
		t.Fatalf("after the wait: %+v", r.s)
	}
	// The hook runs in the saving goroutine; wait for its first call (the
	// test's context bounds the wait) rather than for the scheduler.
	select {
	case id := <-hooked:
		if id != s.ID {
			t.Fatalf("OnSessionChange saw %s, want the session %s", id, s.ID)
		}
	case <-ctxT(t).Done():
		t.Fatal("OnSessionChange was not called for the seller's answer")
	}
}

// TestAwaitAnswerBound: a seller that does not answer within the bound
// leaves the snapshot saying it still waits; that is not an error.
func TestAwaitAnswerBound(t *testing.T) {
	m, _ := releasedMarket(t)
	c := newCore(t, m, coreOpts{})
	s := pendingCounter(t, c)
	got, err := c.AwaitAnswer(ctxT(t), s.ID, time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.AwaitingSeller || got.Answered() {
		t.Fatalf("after the bound: %+v", got)
	}
	if moves := got.AllowedMoves(); len(moves) == 0 || moves[0] != buyer.MoveWait {
		t.Fatalf("allowed moves %v, want wait first", moves)
	}
}

// TestAwaitAnswerStopsWhenCancelled: a cancelled request stops waiting at
// once, with an error that says so.
func TestAwaitAnswerStopsWhenCancelled(t *testing.T) {
	m, _ := releasedMarket(t)
	c := newCore(t, m, coreOpts{})
	s := pendingCounter(t, c)
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	_, err := c.AwaitAnswer(ctx, s.ID, buyer.MaxAnswerWait, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestAnswerWaitBounds(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, buyer.DefaultAnswerWait}, {-time.Second, buyer.DefaultAnswerWait}, {time.Second, time.Second},
		{buyer.MaxAnswerWait, buyer.MaxAnswerWait}, {time.Hour, buyer.MaxAnswerWait},
	} {
		if got := buyer.AnswerWait(tc.in); got != tc.want {
			t.Errorf("AnswerWait(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestSessionChangedRunsHooks: a change kept outside the record (a vote)
// reaches the hooks too, and a removed hook is not called.
func TestSessionChangedRunsHooks(t *testing.T) {
	m := startMarket(t, nil)
	c := newCore(t, m, coreOpts{})
	calls := 0
	remove := c.OnSessionChange(func(id string) {
		if id == "0123456789abcdef0123456789abcdef" {
			calls++
		}
	})
	c.SessionChanged(ctxT(t), "0123456789abcdef0123456789abcdef")
	remove()
	c.SessionChanged(ctxT(t), "0123456789abcdef0123456789abcdef")
	if calls != 1 {
		t.Fatalf("hook called %d times, want 1", calls)
	}
}

// TestEscalationEvents: entering and leaving ESCALATED are events.
func TestEscalationEvents(t *testing.T) {
	pol := &escalatingPolicy{seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(9500), Exponent: 1, MaxTurns: 6}}
	m := startMarket(t, []demomarket.SellerSpec{{Domain: "manager-approval.anp", DisplayName: "Manager Approval (demo)",
		Categories: []string{"kitchen"}, Modes: []anp.Mode{anp.ModeC}, Custom: pol}})
	c := newCore(t, m, coreOpts{})
	// The events are sent after the save that wakes a waiting call, so the
	// test waits for them rather than reading them when the call returns.
	events := make(chan buyer.EventType, 8)
	unsub := c.Subscribe(func(e buyer.Event) {
		if e.Type == buyer.EventEscalated || e.Type == buyer.EventEscalationResolved {
			events <- e.Type
		}
	})
	defer unsub()
	ctx := ctxT(t)
	s, err := c.ProposeDeal(ctx, "ANP/C.manager-approval.anp", buyer.Constraints{Item: "Range hood", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c.Counter(ctx, s.ID, anptest.USD(8500), ""); err != nil {
		t.Fatal(err)
	}
	if s, err = c.AwaitAnswer(ctx, s.ID, time.Minute, nil); err != nil || s.State != buyer.StateEscalated {
		t.Fatalf("an escalated session is an answer: %v %+v", err, s)
	}
	if err := m.Nodes["manager-approval.anp"].ResolveEscalation(ctx, s.ID, seller.Decision{Action: seller.ActionCounter, Price: anptest.USD(9600)}); err != nil {
		t.Fatal(err)
	}
	s, err = c.WaitForSeller(ctx, s.ID)
	if err != nil || s.State != buyer.StateCountered || s.Escalation.Outcome != "countered" {
		t.Fatalf("after the resolution: %v %+v", err, s)
	}
	var got []buyer.EventType
	for len(got) < 2 {
		select {
		case e := <-events:
			got = append(got, e)
		case <-ctx.Done():
			t.Fatalf("events %v, want escalated then escalation_resolved: %v", got, ctx.Err())
		}
	}
	if got[0] != buyer.EventEscalated || got[1] != buyer.EventEscalationResolved {
		t.Fatalf("events %v", got)
	}
	select {
	case e := <-events:
		t.Fatalf("a third escalation event %s", e)
	default:
	}
}
