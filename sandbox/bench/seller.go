package bench

import (
	"context"
	"strconv"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

// Seller returns the scenario's seller as the seller.Policy a seller node
// runs: seller.CurvePolicy for the curve policies, TitForTat and HardLiner
// for the others.
func (sc Scenario) Seller() seller.Policy {
	switch sc.Policy {
	case SellerTitForTat:
		return TitForTat{List: sc.List, Floor: sc.Floor, MaxTurns: sc.SellerTurns}
	case SellerHardLiner:
		return HardLiner{List: sc.List, Floor: sc.Floor, MaxTurns: sc.SellerTurns}
	}
	return &seller.CurvePolicy{List: money(sc.List), Floor: money(sc.Floor), Exponent: curveExponent(sc.Policy), MaxTurns: sc.SellerTurns}
}

// curveExponent is the seller.CurvePolicy exponent of a curve policy.
func curveExponent(p SellerPolicy) float64 {
	switch p {
	case SellerBoulware:
		return 0.3
	case SellerConceder:
		return 3
	}
	return 1
}

// Terms are the proposal terms of the scenario's negotiation; they name the
// scenario, so a seller node serving many scenarios can tell them apart.
func (sc Scenario) Terms() map[string]string {
	return map[string]string{"scenario": strconv.Itoa(sc.Index)}
}

func money(minor int64) anp.Money { return anp.Money{Amount: minor, Currency: Currency} }

// TitForTat is a seller.Policy that mirrors the buyer: it opens at List,
// answers the buyer's first offer with a step of 5% of the list-to-floor
// span, and then concedes exactly what the buyer conceded since its previous
// offer; its ask at MaxTurns is its final offer. Accepting, the floor and
// the final offer follow seller.AskRule. Amounts are in minor units of
// Currency.
type TitForTat struct {
	List, Floor int64
	MaxTurns    int
}

// Open implements seller.Policy: the list price, or the opening offer
// answered like a counter at turn 1.
func (p TitForTat) Open(_ context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	return p.rule().Answer(v, 1, amountOf(prop.Offer), p.List, 1 >= p.MaxTurns), nil
}

// Respond implements seller.Policy.
func (p TitForTat) Respond(_ context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	step := (p.List - p.Floor) / 20
	if v.LastOffer != nil {
		step = max(0, offer.Amount-v.LastOffer.Amount)
	}
	return p.rule().Answer(v, v.Turn, offer.Amount, amountOr(v.LastAsk, p.List)-step, v.Turn >= p.MaxTurns), nil
}

func (p TitForTat) rule() seller.AskRule {
	return seller.AskRule{Currency: Currency, List: p.List, Floor: p.Floor, MaxTurns: p.MaxTurns}
}

// HardLiner is a seller.Policy that holds its list price until MaxTurns and
// then offers its floor as its final offer; accepting and rejecting follow
// seller.AskRule. Amounts are in minor units of Currency.
type HardLiner struct {
	List, Floor int64
	MaxTurns    int
}

// Open implements seller.Policy.
func (p HardLiner) Open(_ context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	return p.answer(v, 1, amountOf(prop.Offer)), nil
}

// Respond implements seller.Policy.
func (p HardLiner) Respond(_ context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	return p.answer(v, v.Turn, offer.Amount), nil
}

func (p HardLiner) answer(v seller.SessionView, turn int, offer int64) seller.Decision {
	ask := p.List
	if turn >= p.MaxTurns {
		ask = p.Floor
	}
	return seller.AskRule{Currency: Currency, List: p.List, Floor: p.Floor, MaxTurns: p.MaxTurns}.Answer(v, turn, offer, ask, false)
}

// amountOf is m's amount, 0 for none.
func amountOf(m *anp.Money) int64 { return amountOr(m, 0) }

// amountOr is m's amount, or def when there is none.
func amountOr(m *anp.Money, def int64) int64 {
	if m == nil {
		return def
	}
	return m.Amount
}

// sellerSide is a scenario's seller as a node runs it: the policy answers,
// and seller.Step, SessionView.ForCounter and SessionView.After (the node's
// own rules) turn its answers into replies and keep the session.
type sellerSide struct {
	policy seller.Policy
	view   seller.SessionView
}

// open answers the buyer's PROPOSE (turn 1), like a node's PROPOSE handler.
func (ss *sellerSide) open(ctx context.Context, id string, prop anp.ProposeBody) (seller.Reply, error) {
	ss.view = seller.SessionView{ID: id, Mode: prop.Mode, Item: prop.Item, Category: prop.Category, Quantity: prop.Quantity,
		Currency: prop.Currency, Terms: prop.Terms, Turn: 1, State: seller.StateOpen}
	d, err := ss.policy.Open(ctx, ss.view, prop)
	if err != nil {
		return seller.Reply{}, err
	}
	return ss.reply(ss.view, d, prop.Offer)
}

// counter answers a buyer COUNTER of offer at turn, like a node's COUNTER
// handler.
func (ss *sellerSide) counter(ctx context.Context, turn int, offer anp.Money) (seller.Reply, error) {
	v, err := ss.view.ForCounter(turn)
	if err != nil {
		return seller.Reply{}, err
	}
	d, err := ss.policy.Respond(ctx, v, offer)
	if err != nil {
		return seller.Reply{}, err
	}
	return ss.reply(v, d, &offer)
}

func (ss *sellerSide) reply(v seller.SessionView, d seller.Decision, offer *anp.Money) (seller.Reply, error) {
	r, err := seller.Step(v, d, offer)
	if err != nil {
		return seller.Reply{}, err
	}
	ss.view = v.After(r, offer)
	return r, nil
}
