package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// TestBuyerCallbacksAreReadByPrefix: a replica reads the callbacks stored
// for a buyer whose WebSocket authenticates on it. It reads that buyer's,
// not every buyer's: every buyer reconnecting after a replica restart
// would otherwise read all undelivered callbacks each.
func TestBuyerCallbacksAreReadByPrefix(t *testing.T) {
	reads := &ledgerReads{}
	e := newEnv(t, func(c *Config) { reads.Ledger = c.Ledger; c.Ledger = reads })
	ctx := context.Background()
	buyers := []string{anptest.PubHex(anptest.NewKey(t)), anptest.PubHex(anptest.NewKey(t)), anptest.PubHex(anptest.NewKey(t))}
	env := newBuyerSession(t, e.clock, "pans.anp").Seal(anp.TypePropose, proposeBody())
	for _, buyer := range buyers {
		for i := range 4 {
			id := fmt.Sprintf("cb-%d", i)
			data, err := json.Marshal(pendingRecord{Buyer: buyer, ID: id, Domain: "pans.anp", Envelope: env})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.ledger.Put(ctx, bucketPending, pendingKey(buyer, id), data); err != nil {
				t.Fatal(err)
			}
		}
	}
	reads.values.Store(0)
	ps, err := e.srv.hub.stored(ctx, buyers[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Buyer != buyers[1] {
			t.Fatalf("a callback of buyer %s… among buyer %s…'s", p.Buyer[:12], buyers[1][:12])
		}
	}
	if len(ps) != 4 || reads.values.Load() != 4 {
		t.Fatalf("%d callbacks of the buyer, %d stored values read; want its 4, reading 4 of the 12 stored", len(ps), reads.values.Load())
	}
	if all, err := e.srv.hub.stored(ctx, ""); err != nil || len(all) != 12 {
		t.Fatalf("every buyer's callbacks: %d, %v; want 12", len(all), err)
	}
}
