package seller

import (
	"net/http"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// asyncNode starts an async node whose callbacks go to a stub registry.
// Every asynchronous answer waits, after delay, until the test lets it go
// with releaseAnswer(t, gate).
func asyncNode(t *testing.T, delay time.Duration) (*Node, *buyer, *stubRegistry, chan<- struct{}) {
	t.Helper()
	reg := newStubRegistry(t)
	gate := make(chan struct{})
	n, srv := newTestNode(t, func(c *Config) {
		c.Async = true
		c.AsyncDelay = delay
		c.asyncGate = gate
		c.Registry = &httpRegistry{base: reg.srv.URL, identity: sellerKey}
	})
	n.retryMin, n.retryMax = 5*time.Millisecond, 20*time.Millisecond
	return n, newBuyer(t, srv.URL), reg, gate
}

// releaseAnswer lets one asynchronous answer that waits at gate go ahead.
// It returns once the answer has left the gate.
func releaseAnswer(t *testing.T, gate chan<- struct{}) {
	t.Helper()
	select {
	case gate <- struct{}{}:
	case <-time.After(10 * time.Second): // a guard against hanging, not an assertion
		t.Fatal("no asynchronous answer was waiting")
	}
}

// waitForAnswers waits until every asynchronous answer the node started has
// finished, its callback delivery included.
func waitForAnswers(n *Node) { n.wg.Wait() }

// awaitCallback waits for the next callback the registry received.
func awaitCallback(t *testing.T, reg *stubRegistry) *anp.Envelope {
	t.Helper()
	select {
	case env := <-reg.arrived:
		return env
	case <-time.After(10 * time.Second):
		t.Fatal("no callback arrived")
		return nil
	}
}

func TestAsyncCountersArriveThroughCallbacks(t *testing.T) {
	n, b, reg, gate := asyncNode(t, 0)
	reg.failFirst = 2 // the first two deliveries fail and are retried
	if got := b.send(anp.TypePropose, propose("Dutch oven", nil)); got.Type != anp.TypeCounter {
		t.Fatalf("PROPOSE stays synchronous, got %s", got.Type)
	}
	env := b.Seal(anp.TypeCounter, counter(7000, 2))
	if r := b.post(anp.SellerCounter, env); r.status != http.StatusAccepted || !r.pend || r.reply != nil {
		t.Fatalf("async COUNTER: %d %+v", r.status, r)
	}
	b.Record(env)
	// While the answer is outstanding (held at the gate): no new offer, and
	// a retransmission is pending again.
	if r := b.post(anp.SellerCounter, b.Seal(anp.TypeCounter, counter(7100, 3))); r.status != 409 || r.err.Code != anp.CodeBadState {
		t.Fatalf("COUNTER while pending: %d %+v", r.status, r.err)
	}
	if r := b.post(anp.SellerCounter, env); r.status != http.StatusAccepted || !r.pend {
		t.Fatalf("retransmission while pending: %d %+v", r.status, r)
	}
	releaseAnswer(t, gate)
	cb := awaitCallback(t, reg)
	b.Accept(cb) // seller-signed, to the buyer key, chained to the COUNTER
	if o := anptest.Body[anp.OfferBody](t, cb); cb.Type != anp.TypeCounter || o.Price != anptest.USD(9500) || o.Turn != 2 {
		t.Fatalf("callback %s %+v", cb.Type, o)
	}
	if attempts, delivered := reg.counts(); attempts != 3 || delivered != 1 {
		t.Fatalf("%d attempts, %d delivered; want 3 and 1", attempts, delivered)
	}
	// The answered COUNTER retransmitted gets the answer synchronously.
	if r := b.post(anp.SellerCounter, env); r.status != 200 || r.reply.Sig != cb.Sig {
		t.Fatalf("retransmission after the answer: %d", r.status)
	}

	for i, offer := range []int64{8000, 8500} {
		e := b.Seal(anp.TypeCounter, counter(offer, 3+i))
		if r := b.post(anp.SellerCounter, e); r.status != http.StatusAccepted {
			t.Fatalf("COUNTER %d: %d %+v", 3+i, r.status, r.err)
		}
		b.Record(e)
		releaseAnswer(t, gate)
		b.Accept(awaitCallback(t, reg))
	}
	acc := b.Tr.Last()
	if acc.Type != anp.TypeAccept || anptest.Body[anp.OfferBody](t, acc).Price != anptest.USD(8500) {
		t.Fatalf("last callback %s %+v, want ACCEPT at 85.00 USD", acc.Type, anptest.Body[anp.OfferBody](t, acc))
	}
	// COMMIT stays synchronous.
	if got := b.send(anp.TypeCommit, anp.CommitBody{Artifact: b.artifactFor(acc, propose("Dutch oven", nil))}); got.Type != anp.TypeConfirm {
		t.Fatalf("COMMIT answered %s", got.Type)
	}
	if v, _ := n.Session(b.Session); v.State != StateSigned {
		t.Fatalf("state %s", v.State)
	}
}

func TestAsyncCancelWhilePendingDropsTheAnswer(t *testing.T) {
	n, b, reg, gate := asyncNode(t, 0)
	b.send(anp.TypePropose, propose("kettle", nil))
	env := b.Seal(anp.TypeCounter, counter(7000, 2))
	if r := b.post(anp.SellerCounter, env); r.status != http.StatusAccepted {
		t.Fatalf("COUNTER: %d", r.status)
	}
	b.Record(env)
	if ack := b.send(anp.TypeCancel, anp.NoteBody{}); ack.Type != anp.TypeInform {
		t.Fatalf("CANCEL answered %s", ack.Type)
	}
	releaseAnswer(t, gate) // only now may the answer run: it finds the session cancelled
	waitForAnswers(n)
	if attempts, _ := reg.counts(); attempts != 0 {
		t.Fatalf("%d callbacks for a cancelled session", attempts)
	}
}

func TestCloseStopsAsyncWorkers(t *testing.T) {
	n, b, reg, _ := asyncNode(t, time.Hour) // never released: Close must end the wait
	b.send(anp.TypePropose, propose("kettle", nil))
	if r := b.post(anp.SellerCounter, b.Seal(anp.TypeCounter, counter(7000, 2))); r.status != http.StatusAccepted {
		t.Fatalf("COUNTER: %d", r.status)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if attempts, _ := reg.counts(); attempts != 0 {
		t.Fatalf("%d callbacks after Close", attempts)
	}
	b2 := newBuyer(t, b.url)
	b2.send(anp.TypePropose, propose("kettle", nil))
	if r := b2.post(anp.SellerCounter, b2.Seal(anp.TypeCounter, counter(7000, 2))); r.status != http.StatusBadGateway || r.err.Code != anp.CodeUnavailable {
		t.Fatalf("COUNTER after Close: %d %+v", r.status, r.err)
	}
	if v, _ := n.Session(b2.Session); v.Turn != 1 {
		t.Fatalf("a refused COUNTER moved the session to turn %d", v.Turn)
	}
}

func TestAsyncPolicyFailureInforms(t *testing.T) {
	reg := newStubRegistry(t)
	n, srv := newTestNode(t, func(c *Config) {
		c.Async = true
		c.Registry = &httpRegistry{base: reg.srv.URL, identity: sellerKey}
		c.Policy = funcPolicy{
			open: func(SessionView, anp.ProposeBody) (Decision, error) {
				return Decision{Action: ActionCounter, Price: anptest.USD(10000)}, nil
			},
			respond: func(SessionView, anp.Money) (Decision, error) {
				return Decision{Action: ActionAccept, Price: anptest.USD(99999)}, nil // above the offer: invalid
			},
		}
	})
	b := newBuyer(t, srv.URL)
	b.send(anp.TypePropose, propose("kettle", nil))
	env := b.Seal(anp.TypeCounter, counter(7000, 2))
	if r := b.post(anp.SellerCounter, env); r.status != http.StatusAccepted {
		t.Fatalf("COUNTER: %d", r.status)
	}
	b.Record(env)
	cb := awaitCallback(t, reg)
	b.Accept(cb)
	if cb.Type != anp.TypeInform || anptest.Body[anp.NoteBody](t, cb).Reason != "error" {
		t.Fatalf("callback %s %+v, want INFORM with reason error", cb.Type, anptest.Body[anp.NoteBody](t, cb))
	}
	if v, _ := n.Session(b.Session); v.State != StateOpen || v.Turn != 2 {
		t.Fatalf("session %+v, want OPEN at turn 2", v)
	}
	// The next offer is at turn 3.
	e3 := b.Seal(anp.TypeCounter, counter(7100, 3))
	if r := b.post(anp.SellerCounter, e3); r.status != http.StatusAccepted {
		t.Fatalf("COUNTER at turn 3: %d %+v", r.status, r.err)
	}
}
