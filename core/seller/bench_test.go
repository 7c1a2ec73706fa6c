package seller

import (
	"context"
	"net/http"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// steadyPolicy always asks the same price, so a session never ends.
var steadyPolicy = funcPolicy{
	open: func(SessionView, anp.ProposeBody) (Decision, error) {
		return Decision{Action: ActionCounter, Price: anptest.USD(10000)}, nil
	},
	respond: func(SessionView, anp.Money) (Decision, error) {
		return Decision{Action: ActionCounter, Price: anptest.USD(10000)}, nil
	},
}

// BenchmarkCounterRoundTrip measures one buyer COUNTER through the
// handler over loopback HTTP: the buyer seals it, the node verifies it,
// decides and seals a reply, and the buyer verifies the reply. Sessions run
// benchTurns COUNTERs, then a new one opens (untimed): a longer session
// would reach the per-session byte limit.
func BenchmarkCounterRoundTrip(b *testing.B) {
	_, srv := newTestNode(b, func(c *Config) { c.Policy = steadyPolicy })
	var by *buyer
	turn := 0
	fresh := func() {
		by = newBuyer(b, srv.URL)
		by.send(anp.TypePropose, propose("kettle", nil))
		turn = 1
	}
	fresh()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if turn > benchTurns {
			b.StopTimer()
			fresh()
			b.StartTimer()
		}
		turn++
		by.counterAccepted(b, turn)
	}
}

// BenchmarkProposeRoundTrip measures opening a session over loopback HTTP.
func BenchmarkProposeRoundTrip(b *testing.B) {
	_, srv := newTestNode(b, nil)
	by := newBuyer(b, srv.URL)
	body := propose("kettle", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		by.Session = anp.NewSessionID()
		by.Tr = anp.Transcript{}
		if r := by.post(anp.SellerHandshake, by.Seal(anp.TypePropose, body)); r.status != http.StatusOK {
			b.Fatalf("status %d %+v", r.status, r.err)
		}
	}
}

func BenchmarkCurveRespond(b *testing.B) {
	p := &CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(8000), Exponent: 0.6, MaxTurns: 8}
	ask := anptest.USD(9500)
	v := SessionView{Quantity: 1, Currency: "USD", Turn: 4, LastAsk: &ask}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Respond(ctx, v, anptest.USD(7000)); err != nil {
			b.Fatal(err)
		}
	}
}
