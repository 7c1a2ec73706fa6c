package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// simPolicy runs a simulated seller policy inside a real seller node, for
// the policies seller.CurvePolicy does not cover.
type simPolicy struct{ sc Scenario }

func (p simPolicy) Open(context.Context, seller.SessionView, anp.ProposeBody) (seller.Decision, error) {
	m := anp.Money{Amount: p.sc.List, Currency: Currency}
	return seller.Decision{Action: seller.ActionCounter, Price: m, Message: fmt.Sprintf("Our price is %s.", m)}, nil
}

func (p simPolicy) Respond(_ context.Context, s seller.SessionView, offer anp.Money) (seller.Decision, error) {
	st := sellerState{sc: p.sc, lastAsk: s.LastAsk.Amount}
	if s.LastOffer != nil {
		st.lastOffer = s.LastOffer.Amount
	}
	st.finalGiven = st.lastAsk <= p.sc.Floor || (p.sc.Policy == SellerTitForTat && s.Turn-1 >= p.sc.SellerTurns)
	rep := st.respond(s.Turn, offer.Amount)
	m := anp.Money{Amount: rep.price, Currency: Currency}
	switch rep.kind {
	case replyAccept:
		return seller.Decision{Action: seller.ActionAccept, Price: m}, nil
	case replyReject:
		return seller.Decision{Action: seller.ActionReject, Message: "No deal."}, nil
	}
	return seller.Decision{Action: seller.ActionCounter, Price: m, Final: rep.final, Message: fmt.Sprintf("We can do %s.", m)}, nil
}

// The in-memory simulation gives the same outcome as the real engine: a
// buyer.Core negotiating over loopback HTTP through a registry with real
// seller nodes (seller.CurvePolicy for the curve policies).
func TestSimulationMatchesEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a market")
	}
	var picked []Scenario
	count := map[SellerPolicy]int{}
	for _, sc := range Scenarios(1, 100) {
		if count[sc.Policy] < 2 {
			count[sc.Policy]++
			picked = append(picked, sc)
		}
	}
	// One scenario without a zone of agreement.
	for _, sc := range Scenarios(1, 100) {
		if !sc.Zone() {
			picked = append(picked, sc)
			break
		}
	}
	specs := make([]demomarket.SellerSpec, len(picked))
	for i, sc := range picked {
		spec := demomarket.SellerSpec{Domain: fmt.Sprintf("sim-%d.anp", sc.Index), DisplayName: "Simulated seller (test)",
			Categories: []string{"test"}, Modes: []anp.Mode{anp.ModeC}}
		e := map[SellerPolicy]float64{SellerBoulware: 0.3, SellerLinear: 1, SellerConceder: 3}[sc.Policy]
		if e > 0 {
			spec.Policy = seller.CurvePolicy{List: anp.Money{Amount: sc.List, Currency: Currency}, Floor: anp.Money{Amount: sc.Floor, Currency: Currency},
				Exponent: e, MaxTurns: sc.SellerTurns}
		} else {
			spec.Custom = simPolicy{sc}
		}
		specs[i] = spec
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	m, err := demomarket.Start(ctx, demomarket.Options{Sellers: specs, Difficulty: 4, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	client := registry.NewClient(m.RegistryURL, id, registry.ClientOptions{HTTP: &http.Client{Timeout: 20 * time.Second}, RootKey: m.RootKey})
	core, err := buyer.New(buyer.Config{Identity: id, Registry: client, MaxTurns: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	defer core.Close()

	buyers := map[string]func() buyer.Decider{
		"strategy:boulware":         func() buyer.Decider { return concession.New(concession.Boulware, 0) },
		"baseline:clinch-guideline": func() buyer.Decider { return ClinchGuideline{} },
	}
	ends := map[End]int{}
	for name, mk := range buyers {
		for _, sc := range picked {
			sim := Simulate(ctx, sc, mk())
			s, err := core.ProposeDeal(ctx, fmt.Sprintf("ANP/C.sim-%d.anp", sc.Index), buyer.Constraints{Item: "simulated item", Quantity: 1,
				MaxBudget: anp.Money{Amount: sc.Budget, Currency: Currency}, MaxTurns: sc.MaxTurns}, buyer.ProposeOptions{})
			if err != nil {
				t.Fatalf("%s %v: propose: %v", name, sc, err)
			}
			s, err = core.Negotiate(ctx, s.ID, mk())
			got := Outcome{Rounds: s.Turn}
			switch {
			case errors.Is(err, buyer.ErrBadState):
				got.End = EndMaxTurns
			case err != nil:
				t.Fatalf("%s %v: negotiate: %v", name, sc, err)
			case s.State == buyer.StateConfirmed:
				got.End, got.Price = EndDeal, s.AgreedPrice.Amount
			case strings.HasPrefix(s.Reason, "seller ended"):
				got.End = EndSellerReject
			case s.State == buyer.StateCancelled:
				got.End = EndBuyerExit
			default:
				t.Fatalf("%s %v: session ended %s (%s)", name, sc, s.State, s.Reason)
			}
			ends[got.End]++
			if got.End != sim.End || got.Price != sim.Price || got.Rounds != sim.Rounds {
				t.Errorf("%s %v:\n engine     %s at %d after %d turns\n simulation %s at %d after %d turns",
					name, sc, got.End, got.Price, got.Rounds, sim.End, sim.Price, sim.Rounds)
			}
		}
	}
	t.Logf("outcomes compared: %v", ends)
	if ends[EndDeal] == 0 || ends[EndDeal] == len(picked)*len(buyers) {
		t.Errorf("outcomes %v: the comparison should cover deals and failures", ends)
	}
}
