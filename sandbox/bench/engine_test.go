package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// scenarioSeller is a seller.Policy serving many scenarios from one seller
// node: each negotiation is answered by the seller of the scenario its
// proposal names (Scenario.Terms), exactly the policy Simulate runs.
type scenarioSeller map[string]seller.Policy

func newScenarioSeller(scs []Scenario) scenarioSeller {
	m := make(scenarioSeller, len(scs))
	for _, sc := range scs {
		m[sc.Terms()["scenario"]] = sc.Seller
	}
	return m
}

func (m scenarioSeller) pick(v seller.SessionView) (seller.Policy, error) {
	if p, ok := m[v.Terms["scenario"]]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("no scenario %q", v.Terms["scenario"])
}

func (m scenarioSeller) Open(ctx context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	p, err := m.pick(v)
	if err != nil {
		return seller.Decision{}, err
	}
	return p.Open(ctx, v, prop)
}

func (m scenarioSeller) Respond(ctx context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	p, err := m.pick(v)
	if err != nil {
		return seller.Decision{}, err
	}
	return p.Respond(ctx, v, offer)
}

// lastTurnAccepter counters far below the seller until the buyer's turn
// limit, then accepts the seller's price: the move the engine still allows
// past max turns (Session.NextOffer), and the one an earlier hand-written
// simulation refused.
type lastTurnAccepter struct{}

func (lastTurnAccepter) Decide(_ context.Context, s buyer.Session) (buyer.Decision, error) {
	if s.Turn+1 > s.MaxTurns && s.LastSellerPrice.Amount <= s.MaxBudget.Amount {
		return buyer.Decision{Action: buyer.ActionAccept, Price: *s.LastSellerPrice}, nil
	}
	return buyer.Decision{Action: buyer.ActionCounter, Price: money(max(1, s.MaxBudget.Amount/4))}, nil
}

// guardNotes counts the guardrail notes in an engine's JSON log, per session.
func guardNotes(t *testing.T, log []byte) map[string]int {
	t.Helper()
	notes := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct{ Session, Message string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("engine log line %q: %v", sc.Text(), err)
		}
		if strings.HasPrefix(line.Message, "guardrail: ") {
			notes[line.Session]++
		}
	}
	return notes
}

// engineOutcome reads how the real engine's negotiation ended in the
// simulation's terms.
func engineOutcome(s buyer.Session, err error) Outcome {
	o := Outcome{Rounds: s.Turn, Err: err}
	switch {
	case errors.Is(err, buyer.ErrBadState) || errors.Is(err, buyer.ErrInvalidInput) || errors.Is(err, buyer.ErrOverBudget):
		o.End = EndRefused
	case err != nil:
		o.End = EndError
	case s.State == buyer.StateConfirmed:
		o.End, o.Price = EndDeal, s.AgreedPrice.Amount
	case strings.HasPrefix(s.Reason, "seller ended"):
		o.End = EndSellerReject
	case s.State == buyer.StateCancelled:
		o.End = EndBuyerExit
	default:
		o.End, o.Err = EndError, fmt.Errorf("session ended %s: %s", s.State, s.Reason)
	}
	return o
}

// equalityScenarios is how many seeded scenarios TestSimulationMatchesEngine
// plays with every decider, half from each split: 840 (70 of each opponent
// family), or 24 (2 of each, one per split) under the race detector, which makes the
// engine's hashing, JSON and signing about eight times slower (a
// negotiation then costs some 95 ms of CPU).
func equalityScenarios() int {
	if raceEnabled {
		return 2 * len(Suite())
	}
	return 70 * len(Suite())
}

// equalityScenarioSet is the scenarios TestSimulationMatchesEngine plays:
// n/2 of each split, so every opponent family and both its tuned and its
// held-out parameters are compared.
func equalityScenarioSet(n int) []Scenario {
	return append(Scenarios(SplitTuned.DefaultSeed(), n/2, SplitTuned), Scenarios(SplitHeldOut.DefaultSeed(), n-n/2, SplitHeldOut)...)
}

// The simulation and the real engine end every negotiation the same way
// (end, price, turns and guardrail notes): seeded scenarios of every
// opponent family, each played by every shipped decider (and
// lastTurnAccepter) through Simulate and through a buyer.Core negotiating
// over loopback HTTP with a registry and a real seller node running the
// scenario's seller.Policy.
func TestSimulationMatchesEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a market and plays thousands of negotiations")
	}
	scs := equalityScenarioSet(equalityScenarios())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m, err := demomarket.Start(ctx, demomarket.Options{Difficulty: 4, Logger: zerolog.Nop(), Sellers: []demomarket.SellerSpec{{
		Domain: simSeller, DisplayName: "Simulated sellers (test)", Categories: []string{"test"}, Modes: []anp.Mode{anp.ModeC},
		Custom: newScenarioSeller(scs),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	client := registry.NewClient(m.RegistryURL, id, registry.ClientOptions{HTTP: &http.Client{Timeout: 20 * time.Second}, RootKey: m.RootKey})
	var logs bytes.Buffer
	core, err := buyer.New(buyer.Config{Identity: id, Registry: client, MaxTurns: 8, Logger: zerolog.New(zerolog.SyncWriter(&logs)).Level(zerolog.InfoLevel)})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	defer core.Close()

	simBuyers, engineBuyers := DefaultBuyers(), DefaultBuyers() // fresh deciders on each side
	simBuyers["test:last-turn-accepter"], engineBuyers["test:last-turn-accepter"] = lastTurnAccepter{}, lastTurnAccepter{}
	names := make([]string, 0, len(simBuyers))
	for name := range simBuyers {
		names = append(names, name)
	}
	sort.Strings(names)
	type game struct {
		name      string
		sc        Scenario
		sim, eng  Outcome
		sessionID string
	}
	games := make([]game, 0, len(names)*len(scs))
	for _, name := range names {
		for _, sc := range scs {
			games = append(games, game{name: name, sc: sc, sim: Simulate(ctx, sc, simBuyers[name])})
		}
	}
	start := time.Now()
	work := make(chan *game)
	var wg sync.WaitGroup
	for range 4 { // a few negotiations in flight keep both cores busy while others wait on the network
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				s, err := core.ProposeDeal(ctx, anp.Address{Mode: anp.ModeC, Domain: simSeller}.String(), buyer.Constraints{Item: simItem, Quantity: 1,
					Terms: g.sc.Terms(), MaxBudget: money(g.sc.Budget), MaxTurns: g.sc.MaxTurns}, buyer.ProposeOptions{})
				if err != nil {
					g.eng = Outcome{End: EndError, Err: fmt.Errorf("propose: %w", err)}
					continue
				}
				g.sessionID = s.ID
				g.eng = engineOutcome(core.Negotiate(ctx, s.ID, engineBuyers[g.name]))
			}
		}()
	}
	for i := range games {
		work <- &games[i]
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	core.Close() // nothing logs any more

	notes := guardNotes(t, logs.Bytes())
	ends := map[End]int{}
	mismatches := 0
	for _, g := range games {
		g.eng.Guard = notes[g.sessionID]
		ends[g.eng.End]++
		if g.eng.End != g.sim.End || g.eng.Price != g.sim.Price || g.eng.Rounds != g.sim.Rounds || g.eng.Guard != g.sim.Guard {
			mismatches++
			if mismatches <= 10 {
				t.Errorf("%s %v:\n engine     %s at %d after %d turns, %d guardrail notes (%v)\n simulation %s at %d after %d turns, %d guardrail notes (%v)",
					g.name, g.sc, g.eng.End, g.eng.Price, g.eng.Rounds, g.eng.Guard, g.eng.Err, g.sim.End, g.sim.Price, g.sim.Rounds, g.sim.Guard, g.sim.Err)
			}
		}
	}
	perFamily := map[string]int{}
	for _, g := range games {
		perFamily[g.sc.Family]++
	}
	t.Logf("%d scenarios × %d deciders = %d negotiations compared in %s, %d mismatches; engine outcomes %v; negotiations per opponent family %v",
		len(scs), len(names), len(games), elapsed.Round(time.Millisecond), mismatches, ends, perFamily)
	for _, f := range Suite() {
		if perFamily[f.Name] == 0 {
			t.Errorf("opponent family %s was not compared", f.Name)
		}
	}
	if mismatches > 0 {
		t.Fatalf("%d of %d negotiations ended differently in the simulation", mismatches, len(games))
	}
	for _, e := range []End{EndDeal, EndBuyerExit, EndSellerReject} {
		if ends[e] == 0 {
			t.Errorf("outcomes %v: the comparison should cover every end, %q never happened", ends, e)
		}
	}
	accepted := 0
	for _, g := range games {
		if g.name == "test:last-turn-accepter" && g.eng.End == EndDeal && g.eng.Rounds > g.sc.MaxTurns {
			accepted++
		}
	}
	if accepted == 0 {
		t.Error("no deal was accepted past the turn limit: the comparison misses that rule")
	}
}

func TestEngineOutcome(t *testing.T) {
	price := money(4200)
	cases := []struct {
		name string
		s    buyer.Session
		err  error
		want End
	}{
		{"deal", buyer.Session{State: buyer.StateConfirmed, AgreedPrice: &price, Turn: 4}, nil, EndDeal},
		{"seller rejected", buyer.Session{State: buyer.StateCancelled, Reason: "seller ended the negotiation: rejected"}, nil, EndSellerReject},
		{"seller stalemate", buyer.Session{State: buyer.StateStalemate, Reason: "seller ended the negotiation: no agreement within the seller's turns"}, nil, EndSellerReject},
		{"buyer exit", buyer.Session{State: buyer.StateCancelled, Reason: "Max turns reached."}, nil, EndBuyerExit},
		{"refused move", buyer.Session{State: buyer.StateCountered}, fmt.Errorf("x: %w", buyer.ErrBadState), EndRefused},
		{"decider error", buyer.Session{State: buyer.StateCountered}, errors.New("decide next move: boom"), EndError},
		{"protocol error", buyer.Session{State: buyer.StateError, Reason: "seller broke the protocol"}, nil, EndError},
	}
	for _, tc := range cases {
		if got := engineOutcome(tc.s, tc.err); got.End != tc.want || (tc.want == EndDeal && got.Price != 4200) {
			t.Errorf("%s: engineOutcome = %+v, want %s", tc.name, got, tc.want)
		}
	}
}
