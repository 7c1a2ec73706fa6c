package reputation

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// t0 is the time every test history starts at.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const day = int64(24 * time.Hour / time.Millisecond)

// ms returns t0 plus d days, in unix ms.
func ms(days float64) int64 { return t0.UnixMilli() + int64(days*float64(day)) }

// at returns t0 plus d days.
func at(days float64) time.Time { return time.UnixMilli(ms(days)) }

// history builds facts in log order.
type history struct {
	facts []Fact
	n     int
}

func (h *history) ref(session string, atMs int64) Ref {
	r := Ref{Leaf: uint64(len(h.facts)), Session: session, At: atMs}
	return r
}

// deal adds a signed deal of value cents USD and returns its session.
func (h *history) deal(seller, buyer Party, cents int64, atMs, deadline int64) string {
	h.n++
	s := fmt.Sprintf("%032x", h.n)
	h.facts = append(h.facts, DealSigned{Ref: h.ref(s, atMs), Seller: seller, Buyer: buyer, Value: anp.Money{Amount: cents, Currency: "USD"}, Deadline: deadline})
	return s
}

func (h *history) add(f Fact) { h.facts = append(h.facts, f) }

func (h *history) book(t *testing.T) *Book {
	t.Helper()
	b := NewBook()
	for _, f := range h.facts {
		if err := b.Apply(f); err != nil {
			t.Fatalf("apply %T: %v", f, err)
		}
	}
	return b
}

// The formula written out again from docs/reputation.md, for the
// hand computations of the tests.
func hg(m float64) float64        { return math.Log(1+m) / (math.Log(1+m) + 3) }
func hstd(m, pen float64) float64 { return (0.5 + 0.5*hg(m)) * pen }
func hv(cents int64) float64      { return 1 + math.Min(2, math.Log10(1+float64(cents)/100)/2) }
func hscore(m, pen float64) float64 {
	return math.Round(100*hstd(m, pen)*1e6) / 1e6
}

func buyer(i int) Party { return Party(fmt.Sprintf("key:%064x", i)) }

func near(a, b float64) bool { return math.Abs(a-b) < 2e-6 }
