package seller

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// blockingPolicy answers counters only when released.
type blockingPolicy struct {
	*CurvePolicy
	entered chan struct{}
	release chan struct{}
}

func (p *blockingPolicy) Respond(ctx context.Context, s SessionView, offer anp.Money) (Decision, error) {
	p.entered <- struct{}{}
	select {
	case <-p.release:
	case <-ctx.Done():
		return Decision{}, ctx.Err()
	}
	return p.CurvePolicy.Respond(ctx, s, offer)
}

// TestSlowAsyncPolicyDoesNotHoldTheSession: while a slow policy decides an
// asynchronous answer, the buyer's CANCEL is taken at once, and the late
// decision is dropped instead of being sent after the cancel.
func TestSlowAsyncPolicyDoesNotHoldTheSession(t *testing.T) {
	pol := &blockingPolicy{CurvePolicy: linearPolicy(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	reg := newStubRegistry(t)
	n, srv := newTestNode(t, func(c *Config) {
		c.Async = true
		c.Policy = pol
		c.Registry = &httpRegistry{base: reg.srv.URL, identity: sellerKey}
	})
	b := newBuyer(t, srv.URL)
	b.send(anp.TypePropose, propose("Dutch oven", nil))
	env := b.Seal(anp.TypeCounter, counter(7000, 2))
	if r := b.post(anp.SellerCounter, env); r.status != http.StatusAccepted {
		t.Fatalf("async COUNTER: %d", r.status)
	}
	b.Record(env)
	select {
	case <-pol.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the policy was never asked")
	}
	done := make(chan result, 1)
	go func() { done <- b.post(anp.SellerCancel, b.Seal(anp.TypeCancel, anp.NoteBody{Reason: "buyer_cancel"})) }()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		close(pol.release)
		t.Fatal("CANCEL waited for the slow policy")
	}
	if r.status != http.StatusOK || r.reply == nil {
		t.Fatalf("CANCEL: %d %+v", r.status, r.err)
	}
	close(pol.release)
	waitForAnswers(n) // the late decision is made and dropped, or sent: no clock decides which
	if attempts, _ := reg.counts(); attempts != 0 {
		t.Fatalf("%d callbacks were sent after the buyer cancelled", attempts)
	}
}
