package seller

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func asks(t *testing.T, p *CurvePolicy, qty int) []int64 {
	t.Helper()
	out := make([]int64, p.maxTurns())
	for k := range out {
		m, err := p.AskAt(k+1, qty)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = m.Amount
	}
	return out
}

func TestCurveAskShapes(t *testing.T) {
	mk := func(e float64) *CurvePolicy {
		return &CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(8000), Exponent: e, MaxTurns: 6}
	}
	cases := []struct {
		name string
		e    float64
		want []int64 // nil: only the shape is checked
	}{
		{"boulware", 0.5, []int64{10000, 9920, 9680, 9280, 8720, 8000}},
		{"linear", 1, []int64{10000, 9600, 9200, 8800, 8400, 8000}},
		{"linear by default", 0, []int64{10000, 9600, 9200, 8800, 8400, 8000}},
		{"conceder", 3, nil},
		{"very hard", 0.05, nil},
		{"very soft", 40, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := asks(t, mk(tc.e), 1)
			if tc.want != nil && !slices.Equal(got, tc.want) {
				t.Fatalf("asks %v, want %v", got, tc.want)
			}
			if got[0] != 10000 || got[len(got)-1] != 8000 {
				t.Fatalf("asks %v: must open at the list price and end at the floor", got)
			}
			for i := 1; i < len(got); i++ {
				if got[i] > got[i-1] || got[i] < 8000 {
					t.Fatalf("asks %v: rise or fall below the floor at turn %d", got, i+1)
				}
			}
		})
	}
	// At every interior turn a Boulware seller asks at least the linear ask, a conceder at most.
	hard, lin, soft := asks(t, mk(0.5), 1), asks(t, mk(1), 1), asks(t, mk(3), 1)
	for k := 1; k < 5; k++ {
		if !(hard[k] > lin[k] && lin[k] > soft[k]) {
			t.Fatalf("turn %d: boulware %d, linear %d, conceder %d", k+1, hard[k], lin[k], soft[k])
		}
	}
}

func TestCurveRoundsUpToMinorUnits(t *testing.T) {
	// JPY has no minor digits: a 1-yen span is held until the last turn.
	p := &CurvePolicy{List: anp.Money{Amount: 100, Currency: "JPY"}, Floor: anp.Money{Amount: 99, Currency: "JPY"}, Exponent: 1, MaxTurns: 4}
	if got := asks(t, p, 1); !slices.Equal(got, []int64{100, 100, 100, 99}) {
		t.Fatalf("JPY asks %v", got)
	}
	// An exact value is not pushed up by float noise: 2000 * 0.7 = 1400 -> 94.00.
	p = &CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(8000), Exponent: 1, MaxTurns: 11}
	if got, _ := p.AskAt(4, 1); got != anptest.USD(9400) {
		t.Fatalf("turn 4 of 11: %s, want 94.00 USD", got)
	}
	// Quantity scales list and floor.
	if got, _ := p.AskAt(11, 7); got != anptest.USD(56000) {
		t.Fatalf("7 units at the floor: %s", got)
	}
	if _, err := p.AskAt(1, 1<<40); err == nil {
		t.Fatal("an overflowing quantity was priced")
	}
}

func TestCurveDecisions(t *testing.T) {
	p := linearPolicy() // 100, 95, 90, 85, 80
	ask := func(m int64) *anp.Money { v := anptest.USD(m); return &v }
	view := func(turn int, lastAsk *anp.Money) SessionView {
		return SessionView{ID: anp.NewSessionID(), Item: "kettle", Quantity: 1, Currency: "USD", Turn: turn, LastAsk: lastAsk, State: StateOpen}
	}
	cases := []struct {
		name   string
		view   SessionView
		offer  anp.Money
		action Action
		price  int64
		final  bool
		msg    string
	}{
		{"below the ask: counter on the curve", view(2, ask(10000)), anptest.USD(7000), ActionCounter, 9500, false, "95.00 USD"},
		{"at the ask: accept at the offer", view(3, ask(9500)), anptest.USD(9000), ActionAccept, 9000, false, "Deal at 90.00 USD"},
		{"between ask and last ask: accept at the offer", view(3, ask(9500)), anptest.USD(9300), ActionAccept, 9300, false, ""},
		{"above the last ask: accept at the last ask", view(3, ask(9500)), anptest.USD(9900), ActionAccept, 9500, false, ""},
		{"last ask under the curve holds", view(2, ask(9100)), anptest.USD(7000), ActionCounter, 9100, false, ""},
		{"turn T: final offer at the floor", view(5, ask(8500)), anptest.USD(7000), ActionCounter, 8000, true, "Final offer: 80.00 USD"},
		{"after the final offer, below the floor: reject", view(6, ask(8000)), anptest.USD(7999), ActionReject, 0, false, "Our final offer was 80.00 USD"},
		{"after the final offer, at the floor: accept", view(6, ask(8000)), anptest.USD(8000), ActionAccept, 8000, false, ""},
		{"after the final offer, above it: accept at the floor", view(7, ask(8000)), anptest.USD(9000), ActionAccept, 8000, false, ""},
		{"other currency: reject", view(2, ask(10000)), anp.Money{Amount: 9000, Currency: "EUR"}, ActionReject, 0, false, "EUR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := p.Respond(context.Background(), tc.view, tc.offer)
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != tc.action || d.Final != tc.final || (tc.price != 0 && d.Price != anptest.USD(tc.price)) {
				t.Fatalf("got %+v, want %s %d final=%v", d, tc.action, tc.price, tc.final)
			}
			if !strings.Contains(d.Message, tc.msg) {
				t.Fatalf("message %q does not contain %q", d.Message, tc.msg)
			}
			if d.Action == ActionCounter || d.Action == ActionAccept {
				if d.Price.Amount < 8000 {
					t.Fatalf("price %s below the floor", d.Price)
				}
			}
		})
	}
}

func TestCurveOpen(t *testing.T) {
	ctx := context.Background()
	o := func(m int64) *anp.Money { v := anptest.USD(m); return &v }
	base := func() *CurvePolicy { return linearPolicy() }
	cases := []struct {
		name   string
		policy func() *CurvePolicy
		view   SessionView
		body   anp.ProposeBody
		action Action
		price  int64
		msg    string
	}{
		{"no offer: list price", base, SessionView{Quantity: 1, Currency: "USD"}, propose("kettle", nil), ActionCounter, 10000, "We can do 100.00 USD"},
		{"offer at list: accept", base, SessionView{Quantity: 1, Currency: "USD"}, propose("kettle", o(10000)), ActionAccept, 10000, ""},
		{"offer above list: accept at list", base, SessionView{Quantity: 1, Currency: "USD"}, propose("kettle", o(15000)), ActionAccept, 10000, ""},
		{"offer below list: counter at list", base, SessionView{Quantity: 1, Currency: "USD"}, propose("kettle", o(5000)), ActionCounter, 10000, ""},
		{"two units", base, SessionView{Quantity: 2, Currency: "USD"}, propose("kettle", nil), ActionCounter, 20000, "200.00 USD"},
		{"one turn: final at the floor", func() *CurvePolicy { p := base(); p.MaxTurns = 1; return p },
			SessionView{Quantity: 1, Currency: "USD"}, propose("kettle", nil), ActionCounter, 8000, "Final offer"},
		{"item not sold", func() *CurvePolicy { p := base(); p.Items = []string{"Dutch Oven", "skillet"}; return p },
			SessionView{Quantity: 1, Currency: "USD"}, propose("kettle", nil), ActionReject, 0, `does not sell "kettle"`},
		{"item sold (case-insensitive substring)", func() *CurvePolicy { p := base(); p.Items = []string{"Dutch Oven"}; return p },
			SessionView{Quantity: 1, Currency: "USD"}, propose("Le Creuset dutch oven 5qt", nil), ActionCounter, 10000, ""},
		{"other currency", base, SessionView{Quantity: 1, Currency: "EUR"},
			anp.ProposeBody{Mode: anp.ModeC, Item: "kettle", Quantity: 1, Currency: "EUR"}, ActionReject, 0, "prices in USD, not EUR"},
		{"credential required, none", func() *CurvePolicy { p := base(); p.RequireCredential = true; return p },
			SessionView{Quantity: 1, Currency: "USD"}, propose("kettle", nil), ActionReject, 0, "credential"},
		{"credential required, present", func() *CurvePolicy { p := base(); p.RequireCredential = true; return p },
			SessionView{Quantity: 1, Currency: "USD", Credential: "GOLD"}, propose("kettle", nil), ActionCounter, 10000, ""},
		{"pitch appended", func() *CurvePolicy { p := base(); p.Pitch = "Free shipping."; return p },
			SessionView{Quantity: 1, Currency: "USD"}, propose("kettle", nil), ActionCounter, 10000, "100.00 USD. Free shipping."},
		{"largest wire quantity", base, SessionView{Quantity: 1_000_000, Currency: "USD"},
			propose("kettle", nil), ActionCounter, 1_000_000 * 10000, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.view.Turn = 1
			d, err := tc.policy().Open(ctx, tc.view, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != tc.action || (tc.price != 0 && d.Price.Amount != tc.price) || !strings.Contains(d.Message, tc.msg) {
				t.Fatalf("got %+v, want %s %d %q", d, tc.action, tc.price, tc.msg)
			}
		})
	}
	huge := &CurvePolicy{List: anptest.USD(anp.MaxAmount / 10), Floor: anptest.USD(1)}
	if d, _ := huge.Open(ctx, SessionView{Quantity: 11, Currency: "USD", Turn: 1}, propose("kettle", nil)); d.Action != ActionReject {
		t.Fatalf("an overflowing total was not rejected: %+v", d)
	}
}

func TestCurveNeverRevealsTheFloorEarly(t *testing.T) {
	p := &CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(7321), Exponent: 0.7, MaxTurns: 8}
	ctx := context.Background()
	v := SessionView{Quantity: 1, Currency: "USD", Turn: 1}
	d, _ := p.Open(ctx, v, propose("kettle", nil))
	for turn := 2; turn < 8; turn++ {
		v.LastAsk, v.Turn = &d.Price, turn
		d, _ = p.Respond(ctx, v, anptest.USD(100))
		if strings.Contains(d.Message, "73.21") || d.Price.Amount == 7321 {
			t.Fatalf("turn %d reveals the floor: %+v", turn, d)
		}
	}
	v.LastAsk, v.Turn = &d.Price, 8
	if d, _ = p.Respond(ctx, v, anptest.USD(100)); !d.Final || d.Price != anptest.USD(7321) {
		t.Fatalf("turn 8: %+v, want the final offer at the floor", d)
	}
}

func TestCurveValidate(t *testing.T) {
	for name, p := range map[string]CurvePolicy{
		"floor above list":  {List: anptest.USD(100), Floor: anptest.USD(200)},
		"zero list":         {List: anptest.USD(0), Floor: anptest.USD(0)},
		"mixed currencies":  {List: anptest.USD(200), Floor: anp.Money{Amount: 100, Currency: "EUR"}},
		"bad currency":      {List: anp.Money{Amount: 200, Currency: "usd"}, Floor: anp.Money{Amount: 100, Currency: "usd"}},
		"negative exponent": {List: anptest.USD(200), Floor: anptest.USD(100), Exponent: -1},
		"huge exponent":     {List: anptest.USD(200), Floor: anptest.USD(100), Exponent: 1e9},
		"negative turns":    {List: anptest.USD(200), Floor: anptest.USD(100), MaxTurns: -1},
		"empty item":        {List: anptest.USD(200), Floor: anptest.USD(100), Items: []string{" "}},
		"long pitch":        {List: anptest.USD(200), Floor: anptest.USD(100), Pitch: strings.Repeat("x", 600)},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := linearPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCurveAnswersQueries(t *testing.T) {
	p := &CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(8000), Pitch: "Ships today."}
	ask := anptest.USD(9000)
	got, err := p.Answer(context.Background(), SessionView{Item: "kettle", LastAsk: &ask}, anp.NoteBody{Message: "lowest price?"})
	if err != nil || got != `Our current ask for "kettle" is 90.00 USD. Ships today.` {
		t.Fatalf("Answer = %q, %v", got, err)
	}
}
