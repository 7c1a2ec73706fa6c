package seller

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// DefaultMaxTurns is the number of turns a CurvePolicy with MaxTurns 0 uses.
const DefaultMaxTurns = 6

// CurvePolicy is the built-in policy: a list price, a hidden floor, a
// time-dependent concession curve and a maximum number of turns.
//
// List and Floor are unit prices; a session for Quantity units asks
// Quantity times them. The ask at turn k (PROPOSE is turn 1) is
//
//	ask(k) = floor + (list-floor) * (1 - (t/T)^(1/e)),  t = k-1, T = MaxTurns-1
//
// so turn 1 asks the list price and turn MaxTurns asks the floor, as a Final
// offer. Exponent e < 1 concedes late (Boulware), 1 linearly, > 1 early
// (conceder); 0 means 1. The curve is evaluated in floating point, rounded up
// to a whole minor unit and clamped to [floor, previous ask], so asks never
// rise and never fall below the floor. Every other calculation is on integer
// minor units.
//
// An offer at or above the current ask is accepted at the offer, but never
// above the seller's latest ask. After the Final offer, offers below the
// floor are rejected. The floor itself is never sent anywhere except as that
// Final offer. A CurvePolicy is read-only once in use and safe for
// concurrent sessions.
type CurvePolicy struct {
	List, Floor       anp.Money // same currency; Floor <= List
	Exponent          float64   // concession shape e; 0 means 1 (linear)
	MaxTurns          int       // T; 0 means DefaultMaxTurns
	RequireCredential bool      // reject buyers without a valid blind credential
	Items             []string  // optional: sell only items containing one of these (case-insensitive)
	Pitch             string    // optional text appended to every seller message
}

// Validate checks the policy's settings: the prices, the curve, then the
// item list and the pitch.
func (p *CurvePolicy) Validate() error {
	if err := p.validatePrices(); err != nil {
		return err
	}
	if err := p.validateCurve(); err != nil {
		return err
	}
	return p.validateItemsAndPitch()
}

// validatePrices checks List and Floor: both positive, in one currency, and
// the floor not above the list price.
func (p *CurvePolicy) validatePrices() error {
	if err := p.List.Positive(); err != nil {
		return fmt.Errorf("seller: curve policy list price: %w", err)
	}
	if err := p.Floor.Positive(); err != nil {
		return fmt.Errorf("seller: curve policy floor: %w", err)
	}
	if p.Floor.Currency != p.List.Currency {
		return fmt.Errorf("seller: curve policy floor is in %s but the list price is in %s", p.Floor.Currency, p.List.Currency)
	}
	if p.Floor.Amount > p.List.Amount {
		return fmt.Errorf("seller: curve policy floor %s is above the list price %s", p.Floor, p.List)
	}
	return nil
}

// validateCurve checks the curve's shape and length: Exponent (0, or a
// finite number from 0.01 to 100) and MaxTurns (0 to 1000).
func (p *CurvePolicy) validateCurve() error {
	if math.IsNaN(p.Exponent) || math.IsInf(p.Exponent, 0) || p.Exponent < 0 {
		return fmt.Errorf("seller: curve policy exponent %v must be a positive number (0 means 1)", p.Exponent)
	}
	if p.Exponent != 0 && (p.Exponent < 0.01 || p.Exponent > 100) {
		return fmt.Errorf("seller: curve policy exponent %v must be between 0.01 and 100", p.Exponent)
	}
	if p.MaxTurns < 0 || p.MaxTurns > 1000 {
		return fmt.Errorf("seller: curve policy max_turns %d must be between 1 and 1000 (0 means %d)", p.MaxTurns, DefaultMaxTurns)
	}
	return nil
}

// validateItemsAndPitch checks the policy's texts: no blank item
// names and a pitch of at most half a message.
func (p *CurvePolicy) validateItemsAndPitch() error {
	for _, it := range p.Items {
		if strings.TrimSpace(it) == "" {
			return fmt.Errorf("seller: curve policy items must not contain empty names")
		}
	}
	if len(p.Pitch) > anp.MaxMessageLen/2 {
		return fmt.Errorf("seller: curve policy pitch is %d bytes, at most %d allowed", len(p.Pitch), anp.MaxMessageLen/2)
	}
	return nil
}

// Open answers a PROPOSE: the list price, or the buyer's opening offer
// handled like a counter at turn 1.
func (p *CurvePolicy) Open(_ context.Context, s SessionView, prop anp.ProposeBody) (Decision, error) {
	if !p.sells(prop.Item) {
		return p.reject("This seller does not sell %q.", prop.Item), nil
	}
	if prop.Currency != p.List.Currency {
		return p.reject("This seller prices in %s, not %s.", p.List.Currency, prop.Currency), nil
	}
	if p.RequireCredential && s.Credential == "" {
		return p.reject("This seller sells only to buyers holding a valid credential for it."), nil
	}
	if _, _, err := p.totals(s.Quantity); err != nil {
		return p.reject("A quantity of %d is more than this seller can price.", s.Quantity), nil
	}
	if prop.Offer != nil {
		return p.decide(s, *prop.Offer, 1)
	}
	return p.decide(s, anp.Money{Currency: p.List.Currency}, 1)
}

// Respond answers a buyer COUNTER at turn s.Turn.
func (p *CurvePolicy) Respond(_ context.Context, s SessionView, offer anp.Money) (Decision, error) {
	if offer.Currency != p.List.Currency || s.Currency != p.List.Currency {
		return p.reject("The offer is in %s but this seller prices in %s.", offer.Currency, p.List.Currency), nil
	}
	if _, _, err := p.totals(s.Quantity); err != nil {
		return p.reject("A quantity of %d is more than this seller can price.", s.Quantity), nil
	}
	return p.decide(s, offer, s.Turn)
}

// Answer answers a buyer QUERY by restating the current ask.
func (p *CurvePolicy) Answer(_ context.Context, s SessionView, _ anp.NoteBody) (string, error) {
	if s.LastAsk == nil {
		return p.withPitch(fmt.Sprintf("Make an offer for %q.", s.Item)), nil
	}
	return p.withPitch(fmt.Sprintf("Our current ask for %q is %s.", s.Item, s.LastAsk)), nil
}

// AskAt returns the curve's ask for turn (1-based) and quantity, before the
// clamp to a previous ask. It is exported for tests and dashboards.
func (p *CurvePolicy) AskAt(turn, quantity int) (anp.Money, error) {
	list, floor, err := p.totals(quantity)
	if err != nil {
		return anp.Money{}, err
	}
	return anp.Money{Amount: p.curve(turn, list, floor), Currency: p.List.Currency}, nil
}

// decide applies the AskRule to an offer at turn with the curve's ask.
// A zero offer amount means "no offer".
func (p *CurvePolicy) decide(s SessionView, offer anp.Money, turn int) (Decision, error) {
	list, floor, err := p.totals(s.Quantity)
	if err != nil {
		return Decision{}, err
	}
	rule := AskRule{Currency: p.List.Currency, List: list, Floor: floor, MaxTurns: p.maxTurns()}
	d := rule.Answer(s, turn, offer.Amount, p.curve(turn, list, floor), false)
	d.Message = p.withPitch(d.Message)
	return d, nil
}

// curve evaluates the concession curve in minor units for a turn.
func (p *CurvePolicy) curve(turn int, list, floor int64) int64 {
	t := p.maxTurns()
	if turn >= t {
		return floor
	}
	if turn <= 1 {
		return list
	}
	x := float64(turn-1) / float64(t-1)
	e := p.Exponent
	if e == 0 {
		e = 1
	}
	span := list - floor
	v := float64(span) * (1 - math.Pow(x, 1/e))
	// Round up to a whole minor unit, ignoring float noise just above an integer.
	c := int64(math.Ceil(v - 1e-9*math.Max(1, v)))
	c = max(0, min(c, span))
	return floor + c
}

// totals returns the list and floor totals for quantity units.
func (p *CurvePolicy) totals(quantity int) (list, floor int64, err error) {
	if quantity < 1 {
		return 0, 0, fmt.Errorf("seller: quantity %d must be at least 1", quantity)
	}
	q := int64(quantity)
	if p.List.Amount > anp.MaxAmount/q {
		return 0, 0, fmt.Errorf("seller: quantity %d times %s exceeds the largest amount", quantity, p.List)
	}
	return p.List.Amount * q, p.Floor.Amount * q, nil
}

func (p *CurvePolicy) maxTurns() int {
	if p.MaxTurns <= 0 {
		return DefaultMaxTurns
	}
	return p.MaxTurns
}

func (p *CurvePolicy) sells(item string) bool {
	if len(p.Items) == 0 {
		return true
	}
	item = strings.ToLower(item)
	for _, it := range p.Items {
		if strings.Contains(item, strings.ToLower(strings.TrimSpace(it))) {
			return true
		}
	}
	return false
}

func (p *CurvePolicy) reject(format string, args ...any) Decision {
	return Decision{Action: ActionReject, Message: p.withPitch(fmt.Sprintf(format, args...))}
}

func (p *CurvePolicy) withPitch(msg string) string {
	if p.Pitch == "" {
		return msg
	}
	return msg + " " + p.Pitch
}
