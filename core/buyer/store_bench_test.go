package buyer_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore/redistest"
	"github.com/clinch-protocol/clinch-mcp/core/store/sqlitestore"
)

// BenchmarkFullDealByStore: whole deals per second with the buyer's sessions
// on each backend, 16 buyers at once (one engine each, one shared store).
func BenchmarkFullDealByStore(b *testing.B) {
	backends := map[string]func(b *testing.B) store.Sessions{
		"memory": func(*testing.B) store.Sessions { return memstore.NewSessions() },
		"sqlite": func(b *testing.B) store.Sessions {
			db, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "s.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db.Sessions()
		},
		"postgres": func(b *testing.B) store.Sessions {
			dsn, _ := pgtest.NewSchema(b)
			db, err := pgstore.Open(context.Background(), dsn)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(db.Close)
			return db.Sessions()
		},
		"redis": func(b *testing.B) store.Sessions {
			u := redistest.URL()
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			db, err := redisstore.Open(context.Background(), u+sep+"prefix="+url.QueryEscape(redistest.NewPrefix(b)))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db.Sessions()
		},
	}
	for _, name := range []string{"memory", "sqlite", "postgres", "redis"} {
		b.Run(name, func(b *testing.B) {
			m := startMarket(b, benchSellers())
			st := backends[name](b)
			cores := make([]*buyer.Core, 16)
			for i := range cores {
				cores[i] = newCore(b, m, coreOpts{sessions: st})
			}
			var next atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				c := cores[int(next.Add(1)-1)%len(cores)]
				for pb.Next() {
					fullDeal(context.Background(), b, c)
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deals/s")
		})
	}
}
