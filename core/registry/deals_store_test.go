package registry

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore/redistest"
	"github.com/clinch-protocol/clinch-mcp/core/store/sqlitestore"
)

// dealLedgers are the real ledgers the deal lifecycle is kept in; Postgres
// and Redis are skipped (with the reason) when not running.
var dealLedgers = []struct {
	name string
	open func(t *testing.T) store.Ledger
}{
	{"sqlite", func(t *testing.T) store.Ledger {
		db, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db.Ledger()
	}},
	{"postgres", func(t *testing.T) store.Ledger {
		dsn, _ := pgtest.NewSchema(t)
		db, err := pgstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db.Ledger()
	}},
	{"redis", func(t *testing.T) store.Ledger {
		db, err := redisstore.OpenWithPrefix(context.Background(), redistest.URL(), redistest.NewPrefix(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db.Ledger()
	}},
}

// TestDealEventsPersistInEveryLedger: a deal's events and its dispute are
// kept in SQLite, Postgres and Redis: after a restart of the registry on
// the same ledger the lifecycle, the dispute index and the log replay
// offline to the same state, and the deal rules go on from there.
func TestDealEventsPersistInEveryLedger(t *testing.T) {
	for _, l := range dealLedgers {
		t.Run(l.name, func(t *testing.T) {
			ledger := l.open(t)
			e := newEnv(t, func(c *Config) { c.Ledger = ledger })
			seller := e.addSeller("pans.anp")
			ctx := context.Background()
			fulfilled := signDeal(t, e, seller, "pans.anp")
			fulfilled.fulfil(t, e)
			disputed := signDeal(t, e, seller, "pans.anp")
			dsp := disputed.seal(t, e, disputed.b.Key, anp.TypeDispute, &anp.DisputeBody{Deal: disputed.dealHash(t), Reason: anp.ReasonNonDelivery, Severity: 5, Evidence: []string{disputed.artifact.Terms.TranscriptHead}})
			if _, err := disputed.buyer.SubmitDealEvent(ctx, dsp); err != nil {
				t.Fatalf("DISPUTE: %v", err)
			}

			e.restart()
			fulfilled.buyer = NewClient(e.ts.URL, fulfilled.buyer.identity, ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
			disputed.buyer = NewClient(e.ts.URL, disputed.buyer.identity, ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
			if l := fulfilled.verifyOffline(t, e); l.State != anp.StateFulfilled {
				t.Fatalf("fulfilled deal after the restart: %s", l.State)
			}
			if l := disputed.verifyOffline(t, e); l.State != anp.StateDisputed || l.Dispute.Severity != 5 {
				t.Fatalf("disputed deal after the restart: %s", l.State)
			}
			list, err := e.srv.Disputes(ctx)
			if err != nil || len(list) != 1 || list[0].Session != disputed.artifact.Terms.SessionID || list[0].State != string(anp.StateDisputed) {
				t.Fatalf("disputes after the restart: %+v, %v", list, err)
			}
			e.clock.Advance(anp.DefaultDeliveryWindow + time.Duration(anp.NonDeliveryGrace)*time.Millisecond + time.Minute)
			if n, err := e.srv.SweepDeals(ctx); err != nil || n != 2 { // the lapse of the fulfilled deal, the rule resolution of the other
				t.Fatalf("sweep after the restart: %d events, %v", n, err)
			}
			if l := disputed.verifyOffline(t, e); l.State != anp.StateResolved || l.Resolution.DecidedBy.ID != anp.RuleNonDelivery {
				t.Fatalf("resolution after the restart: %s", l.State)
			}
			if l := fulfilled.verifyOffline(t, e); l.State != anp.StateReceived {
				t.Fatalf("lapse after the restart: %s", l.State)
			}
		})
	}
}
