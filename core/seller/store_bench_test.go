package seller

import (
	"context"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// benchTurns is the buyer COUNTERs of one benchmark session: a negotiation
// of a realistic length (18 envelopes with the PROPOSE and the replies).
const benchTurns = 8

// BenchmarkStoredMove measures one buyer COUNTER over loopback HTTP with
// the sessions in memory and in each store: read the record, verify, decide,
// seal, save at its version. Sessions run benchTurns COUNTERs, then a new
// one opens (untimed). stored-B/session is the stored form of a session at
// its last turn, table-B/session what the node's table counts for it.
func BenchmarkStoredMove(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchStoredMove(b, nil) })
	for _, be := range storeBackends {
		b.Run(be.name, func(b *testing.B) { benchStoredMove(b, be.open(b)) })
	}
}

func benchStoredMove(b *testing.B, st store.Sessions) {
	n, srv := newTestNode(b, func(c *Config) { c.Policy = steadyPolicy; c.Store = st })
	var by *buyer
	turn := 0
	fresh := func() {
		by = newBuyer(b, srv.URL)
		by.send(anp.TypePropose, propose("kettle", nil))
		turn = 1
	}
	fresh()
	var storedBytes int
	var tableBytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if turn > benchTurns {
			b.StopTimer()
			if tableBytes == 0 {
				tableBytes, _ = n.SessionBytes(by.Session)
			}
			if st != nil && storedBytes == 0 {
				rec, err := st.Load(context.Background(), n.storeKey(by.Session))
				if err != nil {
					b.Fatal(err)
				}
				storedBytes = len(rec.Data)
			}
			fresh()
			b.StartTimer()
		}
		turn++
		by.counterAccepted(b, turn)
	}
	b.StopTimer()
	if storedBytes > 0 {
		b.ReportMetric(float64(storedBytes), "stored-B/session")
	}
	if tableBytes > 0 {
		b.ReportMetric(float64(tableBytes), "table-B/session")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "moves/s")
}
