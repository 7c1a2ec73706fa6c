package seller

import (
	"reflect"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func TestStep(t *testing.T) {
	ask, offer := anptest.USD(9000), anptest.USD(7000)
	open := SessionView{Currency: "USD", Turn: 3, LastAsk: &ask, State: StateOpen}
	final := open
	final.FinalGiven = true
	cases := []struct {
		name  string
		v     SessionView
		d     Decision
		offer *anp.Money
		want  Reply
		err   string
	}{
		{"counter", open, Decision{Action: ActionCounter, Price: anptest.USD(8500), Message: "We can do 85."}, &offer,
			Reply{Type: anp.TypeCounter, Price: anptest.USD(8500), Message: "We can do 85.", State: StateOpen}, ""},
		{"final counter", open, Decision{Action: ActionCounter, Price: anptest.USD(8000), Final: true}, &offer,
			Reply{Type: anp.TypeCounter, Price: anptest.USD(8000), Final: true, State: StateOpen}, ""},
		{"a raised ask is held", open, Decision{Action: ActionCounter, Price: anptest.USD(9500)}, &offer,
			Reply{Type: anp.TypeCounter, Price: ask, State: StateOpen, Held: true}, ""},
		{"the first ask may be anything", SessionView{Currency: "USD", Turn: 1, State: StateOpen}, Decision{Action: ActionCounter, Price: anptest.USD(99999)}, nil,
			Reply{Type: anp.TypeCounter, Price: anptest.USD(99999), State: StateOpen}, ""},
		{"counter in another currency", open, Decision{Action: ActionCounter, Price: anp.Money{Amount: 8500, Currency: "EUR"}}, &offer, Reply{}, "not a positive USD amount"},
		{"counter at zero", open, Decision{Action: ActionCounter, Price: anptest.USD(0)}, &offer, Reply{}, "not a positive USD amount"},
		{"accept at the offer by default", open, Decision{Action: ActionAccept}, &offer,
			Reply{Type: anp.TypeAccept, Price: offer, State: StateAccepted}, ""},
		{"accept below the offer", open, Decision{Action: ActionAccept, Price: anptest.USD(6900)}, &offer,
			Reply{Type: anp.TypeAccept, Price: anptest.USD(6900), State: StateAccepted}, ""},
		{"accept above the offer", open, Decision{Action: ActionAccept, Price: anptest.USD(7100)}, &offer, Reply{}, "accepted at 71.00 USD"},
		{"accept without an offer", open, Decision{Action: ActionAccept}, nil, Reply{}, "made no offer"},
		{"reject", open, Decision{Action: ActionReject, Message: "No."}, &offer,
			Reply{Type: anp.TypeReject, Reason: "rejected", Message: "No.", State: StateCancelled}, ""},
		{"reject after the final offer", final, Decision{Action: ActionReject}, &offer,
			Reply{Type: anp.TypeReject, Reason: "stalemate", State: StateCancelled}, ""},
		{"escalate", open, Decision{Action: ActionEscalate, Message: "Asking a person."}, &offer,
			Reply{Type: anp.TypeEscalate, Reason: "escalated", Message: "Asking a person.", State: StateOpen}, ""},
		{"control characters leave the message", open, Decision{Action: ActionReject, Message: "No\x00 deal\x7f."}, &offer,
			Reply{Type: anp.TypeReject, Reason: "rejected", Message: "No deal.", State: StateCancelled}, ""},
		{"unknown action", open, Decision{Action: "haggle"}, &offer, Reply{}, `unknown action "haggle"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Step(tc.v, tc.d, tc.offer)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Step = %+v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Step = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestForCounter(t *testing.T) {
	v := SessionView{Turn: 3, State: StateOpen}
	got, err := v.ForCounter(4)
	if err != nil || got.Turn != 4 || v.Turn != 3 {
		t.Fatalf("ForCounter(4) = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		v    SessionView
		turn int
		code anp.Code
	}{
		{v, 3, anp.CodeBadRequest},
		{v, 5, anp.CodeBadRequest},
		{SessionView{Turn: 3, State: StateAccepted}, 4, anp.CodeBadState},
		{SessionView{Turn: 3, State: StateCancelled}, 4, anp.CodeBadState},
	} {
		if _, err := tc.v.ForCounter(tc.turn); anp.CodeOf(err) != tc.code {
			t.Errorf("%s at turn %d: ForCounter(%d) = %v, want %s", tc.v.State, tc.v.Turn, tc.turn, err, tc.code)
		}
	}
}

func TestAfter(t *testing.T) {
	ask, offer := anptest.USD(9000), anptest.USD(7000)
	v := SessionView{Currency: "USD", Turn: 3, LastAsk: &ask, State: StateOpen}
	cases := []struct {
		name  string
		r     Reply
		offer *anp.Money
		want  SessionView
	}{
		{"counter", Reply{Type: anp.TypeCounter, Price: anptest.USD(8500), State: StateOpen}, &offer,
			SessionView{Currency: "USD", Turn: 3, LastAsk: ptr(anptest.USD(8500)), LastOffer: &offer, State: StateOpen}},
		{"final counter", Reply{Type: anp.TypeCounter, Price: anptest.USD(8000), Final: true, State: StateOpen}, &offer,
			SessionView{Currency: "USD", Turn: 3, LastAsk: ptr(anptest.USD(8000)), LastOffer: &offer, FinalGiven: true, State: StateOpen}},
		{"accept", Reply{Type: anp.TypeAccept, Price: offer, State: StateAccepted}, &offer,
			SessionView{Currency: "USD", Turn: 3, LastAsk: &ask, LastOffer: &offer, State: StateAccepted}},
		{"opening counter", Reply{Type: anp.TypeCounter, Price: anptest.USD(10000), State: StateOpen}, nil,
			SessionView{Currency: "USD", Turn: 3, LastAsk: ptr(anptest.USD(10000)), State: StateOpen}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := v.After(tc.r, tc.offer); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("After = %+v, want %+v", got, tc.want)
			}
		})
	}
	if v.LastOffer != nil || *v.LastAsk != anptest.USD(9000) {
		t.Fatalf("After changed the view it was called on: %+v", v)
	}
}

func ptr[T any](v T) *T { return &v }

func TestAskRule(t *testing.T) {
	r := AskRule{Currency: "USD", List: 10000, Floor: 6000, MaxTurns: 5}
	at := func(turn int, lastAsk int64, finalGiven bool) SessionView {
		v := SessionView{Currency: "USD", Turn: turn, FinalGiven: finalGiven, State: StateOpen}
		if lastAsk > 0 {
			v.LastAsk = ptr(anptest.USD(lastAsk))
		}
		return v
	}
	cases := []struct {
		name         string
		v            SessionView
		offer, ask   int64
		final        bool
		wantAction   Action
		wantPrice    int64
		wantFinal    bool
		wantMsgStart string
	}{
		{"opening ask", at(1, 0, false), 0, 10000, false, ActionCounter, 10000, false, "We can do"},
		{"an ask above the latest is held down", at(3, 9000, false), 5000, 9500, false, ActionCounter, 9000, false, "We can do"},
		{"an ask below the floor is the floor, final", at(3, 9000, false), 5000, 5000, false, ActionCounter, 6000, true, "Final offer"},
		{"the policy may make an ask above the floor final", at(3, 9000, false), 5000, 8000, true, ActionCounter, 8000, true, "Final offer"},
		{"an offer at the ask is accepted", at(3, 9000, false), 8500, 8500, false, ActionAccept, 8500, false, "Deal at"},
		{"never above the latest ask", at(3, 9000, false), 9900, 8500, false, ActionAccept, 9000, false, "Deal at"},
		{"after a final offer the final ask stands", at(4, 8000, true), 7000, 6000, false, ActionReject, 0, false, "Our final offer was 80.00 USD"},
		{"after a final offer, meeting it is a deal", at(4, 8000, true), 8000, 6000, false, ActionAccept, 8000, false, "Deal at"},
		{"an ask at the floor is final", at(4, 6000, false), 5000, 6000, false, ActionReject, 0, false, "Our final offer was 60.00 USD"},
		{"past the last turn a lower offer is rejected", at(6, 7000, false), 5000, 6500, false, ActionReject, 0, false, "Our final offer was 70.00 USD"},
		{"an opening offer at the list price is accepted", at(1, 0, false), 10000, 10000, false, ActionAccept, 10000, false, "Deal at"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := r.Answer(tc.v, tc.v.Turn, tc.offer, tc.ask, tc.final)
			if d.Action != tc.wantAction || d.Final != tc.wantFinal || !strings.HasPrefix(d.Message, tc.wantMsgStart) ||
				(tc.wantAction != ActionReject && d.Price != anptest.USD(tc.wantPrice)) {
				t.Fatalf("Answer = %+v, want %s %d final %v %q…", d, tc.wantAction, tc.wantPrice, tc.wantFinal, tc.wantMsgStart)
			}
		})
	}
}

// A node answers exactly as the pure rules say: each reply is what Step
// makes of the policy's decision, and the session the node keeps is what
// After makes of the view, however the policy behaves.
func TestNodePlaysByTheSteps(t *testing.T) {
	scripts := map[string][]Decision{
		"concedes to a deal": {
			{Action: ActionCounter, Price: anptest.USD(10000)}, {Action: ActionCounter, Price: anptest.USD(9000)}, {Action: ActionAccept},
		},
		"raises its ask, then a final offer, then rejects": {
			{Action: ActionCounter, Price: anptest.USD(10000)}, {Action: ActionCounter, Price: anptest.USD(12000)},
			{Action: ActionCounter, Price: anptest.USD(8000), Final: true}, {Action: ActionReject, Message: "No."},
		},
		"escalates, then accepts below the offer": {
			{Action: ActionCounter, Price: anptest.USD(10000)}, {Action: ActionEscalate, Message: "One moment."},
			{Action: ActionAccept, Price: anptest.USD(7000)},
		},
	}
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			next := 0
			decide := func() (Decision, error) { d := script[next]; next++; return d, nil }
			n, srv := newTestNode(t, func(c *Config) {
				c.Policy = funcPolicy{
					open:    func(SessionView, anp.ProposeBody) (Decision, error) { return decide() },
					respond: func(SessionView, anp.Money) (Decision, error) { return decide() },
				}
			})
			b := newBuyer(t, srv.URL)
			p := propose("kettle", nil)
			want := SessionView{ID: b.Session, Mode: p.Mode, Item: p.Item, Quantity: 1, Currency: "USD", Terms: p.Terms, Turn: 1, State: StateOpen}
			var offer *anp.Money
			for turn := 1; next < len(script); turn++ {
				var env *anp.Envelope
				if turn == 1 {
					env = b.send(anp.TypePropose, p)
				} else {
					o := anptest.USD(int64(6000 + 500*turn))
					offer = &o
					v, err := want.ForCounter(turn)
					if err != nil {
						t.Fatal(err)
					}
					want = v
					env = b.send(anp.TypeCounter, anp.OfferBody{Price: o, Turn: turn})
				}
				r, err := Step(want, script[next-1], offer)
				if err != nil {
					t.Fatal(err)
				}
				sent := r
				sent.Held, sent.State = false, "" // neither travels on the wire; the state is checked below
				if got := replyOf(t, env); got != sent {
					t.Fatalf("turn %d: the node sent %+v, Step says %+v", turn, got, r)
				}
				want = want.After(r, offer)
				got, _ := n.Session(b.Session)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("turn %d: the node holds %+v, After says %+v", turn, got, want)
				}
			}
		})
	}
}

// replyOf reads a seller envelope back into a Reply, without Held and State.
func replyOf(t *testing.T, env *anp.Envelope) Reply {
	t.Helper()
	r := Reply{Type: env.Type}
	switch env.Type {
	case anp.TypeCounter, anp.TypeAccept:
		o := anptest.Body[anp.OfferBody](t, env)
		r.Price, r.Final, r.Message = o.Price, o.Final, o.Message
	default:
		nb := anptest.Body[anp.NoteBody](t, env)
		r.Reason, r.Message = nb.Reason, nb.Message
	}
	return r
}
