package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/sqlitestore"
)

// benchDealSession returns the stored record of a notarised deal's witness
// session: ten sealed envelopes, as a full deal leaves it.
func benchDealSession(b *testing.B, i int) []byte {
	b.Helper()
	buyer, seller := anptest.SeedKey(1), anptest.SeedKey(2)
	id := fmt.Sprintf("%032x", i+1)
	ws := witnessSession{ID: id, Domain: "pans.anp", Buyer: anptest.PubHex(buyer), BuyerKey: anptest.PubHex(buyer),
		SellerKey: anptest.PubHex(seller), Notarized: true, Active: 1}
	now := time.UnixMilli(1_700_000_000_000)
	for seq := uint64(1); seq <= 10; seq++ {
		key, to := buyer, "pans.anp"
		if seq%2 == 0 {
			key, to = seller, ws.BuyerKey
		}
		env, err := anp.Seal(key, anp.EnvelopeSpec{Type: anp.TypeCounter, Session: id, Seq: seq, Prev: ws.Transcript.Head, To: to,
			Body: anp.OfferBody{Price: anptest.USD(9000), Turn: int(seq)}, Now: now})
		if err != nil {
			b.Fatal(err)
		}
		h, err := env.Hash()
		if err != nil {
			b.Fatal(err)
		}
		ws.Transcript.Envelopes = append(ws.Transcript.Envelopes, env)
		ws.Transcript.Head = h
	}
	data, err := encodeSession(&ws)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkRegistryStartWithDeals measures a registry start (opening the
// SQLite store and New) on a Ledger that keeps the witness sessions of
// 1,000 and of 20,000 notarised deals (about 5 KB each). heap-B is the Go
// heap in use after a collection with the registry running. Both should
// not depend on the number of deals.
func BenchmarkRegistryStartWithDeals(b *testing.B) {
	for _, n := range []int{1_000, 20_000} {
		b.Run(fmt.Sprintf("deals=%d", n), func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "ledger.db")
			root := anptest.NewKey(b)
			open := func() (store.Ledger, func()) {
				db, err := sqlitestore.Open(ctx, path)
				if err != nil {
					b.Fatal(err)
				}
				return db.Ledger(), func() { _ = db.Close() }
			}
			ledger, closeStore := open()
			first, err := New(ctx, Config{Root: root, Ledger: ledger, Logger: zerolog.Nop()})
			if err != nil {
				b.Fatal(err)
			}
			_ = first.Close()
			for i := 0; i < n; i++ {
				if err := ledger.Put(ctx, bucketSessions, fmt.Sprintf("%032x", i+1), benchDealSession(b, i)); err != nil {
					b.Fatal(err)
				}
			}
			closeStore()
			var heap uint64
			for b.Loop() {
				ledger, closeStore := open()
				s, err := New(ctx, Config{Root: root, Ledger: ledger, Logger: zerolog.Nop()})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heap = ms.HeapInuse
				_ = s.Close()
				closeStore()
				b.StartTimer()
			}
			b.ReportMetric(float64(heap), "heap-B")
		})
	}
}
