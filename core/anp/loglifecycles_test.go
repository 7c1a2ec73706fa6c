package anp_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestLifecyclesFollowTheLogAcrossRuns: a reader of the log follows a deal
// through its events; a breach countersigned before deliver_by is refused
// and changes nothing; what Open returns, kept as JSON, lets another reader
// go on from the next entry; a deal that can no longer move is let go.
func TestLifecyclesFollowTheLogAcrossRuns(t *testing.T) {
	f := newLifecycleFixture(t)
	f.deliverAndReceive(t)
	fulfil, receipt := f.Events[0], f.Events[1]

	x := anp.NewLifecycles(pub(rootKey), f.Chain, nil)
	if err := x.Deal(f.Artifact.Receipt.LeafIndex, f.Artifact); err != nil {
		t.Fatal(err)
	}
	early := anp.DealEvent{Kind: anp.EventBreach, By: anp.ByRegistry, Session: f.Life.Session, Deal: f.Deal, DealLeaf: f.Life.DealLeaf, SellerDomain: f.Life.SellerDomain, Rule: anp.RuleBreach}
	forged, err := anp.CountersignDealEvent(early, notaryKey, f.Chain[0], time.UnixMilli(f.Artifact.Terms.AgreedAt+hourMs))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Event(f.Artifact.Receipt.LeafIndex+1, forged); !errors.Is(err, anp.ErrDeadline) {
		t.Fatalf("a breach countersigned before deliver_by: %v, want %v", err, anp.ErrDeadline)
	}
	if open := x.Open(); len(open) != 1 || open[0].State != anp.StateAwaitingDelivery || len(open[0].Events) != 0 {
		t.Fatalf("after the refused breach: %+v", open)
	}
	if l, err := x.Event(fulfil.LeafIndex, &fulfil.Leaf); err != nil || l.State != anp.StateFulfilled {
		t.Fatalf("FULFILL: %v, %v", l, err)
	}

	kept, err := json.Marshal(x.Open())
	if err != nil {
		t.Fatal(err)
	}
	var open []anp.Lifecycle
	if err := json.Unmarshal(kept, &open); err != nil {
		t.Fatal(err)
	}
	y := anp.NewLifecycles(pub(rootKey), f.Chain, open)
	if l, err := y.Event(receipt.LeafIndex, &receipt.Leaf); err != nil || l.State != anp.StateReceived {
		t.Fatalf("RECEIPT after the restore: %v, %v", l, err)
	}
	if open := y.Open(); len(open) != 0 {
		t.Fatalf("a received deal is still followed: %+v", open)
	}
	if _, err := y.Event(receipt.LeafIndex+1, &receipt.Leaf); !errors.Is(err, anp.ErrDealEventOrder) {
		t.Fatalf("an event of a deal no longer followed: %v", err)
	}
}
