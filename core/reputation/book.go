package reputation

import (
	"errors"
	"fmt"
	"slices"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// The named reasons a fact does not apply to a Book. A fact that does not
// apply changes nothing; the formula skips it (docs/reputation.md §2).
var (
	// ErrUnknownDeal: an event names a session with no signed deal before it.
	ErrUnknownDeal = errors.New("no signed deal for the session")
	// ErrDuplicate: a second deal for one session, or an event that
	// happened already (a second FULFILL, RECEIPT, breach or dispute).
	ErrDuplicate = errors.New("fact repeats one already applied")
	// ErrOutOfOrder: an event its deal's state does not allow (a receipt or
	// resolution without the event it answers, anything after a resolution,
	// or a time before the deal's).
	ErrOutOfOrder = errors.New("fact out of order for its deal")
	// ErrBadFact: a fact with an empty or unknown field.
	ErrBadFact = errors.New("malformed fact")
)

// deal is the state of one signed deal, from the facts applied so far.
type deal struct {
	DealSigned
	seq        int     // its place among the book's deals, in log order
	value      float64 // valueWeight of the price
	fulfilled  int64   // unix ms, 0 none
	received   int64
	breachBy   Role
	breachAt   int64
	disputeBy  Role
	disputeAt  int64
	winner     Outcome
	resolvedAt int64
	// Per side (sellerSide, buyerSide): the party's ledger, its pair with
	// the other side, the deal's index in that pair, and whether the deal
	// is listed among the party's penalised deals.
	ledgers   [2]*ledger
	pairs     [2]*pairSums
	pairAt    [2]int
	penalized [2]bool
}

// The sides of a deal, as indexes of its per-side fields.
const (
	sellerSide = 0
	buyerSide  = 1
)

// sideRole returns the role of side s.
func sideRole(s int) Role {
	if s == sellerSide {
		return RoleSeller
	}
	return RoleBuyer
}

// role returns p's side in d.
func (d *deal) role(p Party) Role {
	if d.Seller == p {
		return RoleSeller
	}
	return RoleBuyer
}

// credit is what d earns the party on side r: 1 for an obligation met, 0
// while a dispute is open or when nothing was delivered (docs §3.2).
func (d *deal) credit(r Role) float64 {
	if d.disputeBy != "" && d.winner == "" {
		return 0
	}
	base := d.baseCredit(r)
	switch d.winner {
	case "":
		return base
	case Split:
		return base * SplitCredit
	case Outcome(r):
		return base
	}
	return 0
}

// baseCredit is d's credit for side r before any dispute.
func (d *deal) baseCredit(r Role) float64 {
	switch {
	case d.breachBy == r && d.fulfilled == 0:
		return 0
	case d.Deadline == 0:
		return 1
	case r == RoleBuyer:
		if d.received != 0 || d.fulfilled != 0 || d.winner == ForBuyer {
			return 1
		}
		return 0
	case d.fulfilled == 0:
		return 0
	case d.fulfilled <= d.Deadline:
		return 1
	}
	return LateCredit
}

// Book holds the facts of a log, applied in log order, and computes scores
// from them at any time. It keeps each party's sums up to date as facts
// arrive (docs/reputation.md §3.3 in the orders it states, see ledger), so
// a score costs about the same whatever the number of deals in the log.
// A Book is not safe for concurrent use.
type Book struct {
	deals   map[string]*deal
	parties map[Party]*ledger
	applied uint64
	skipped uint64
}

// NewBook returns an empty Book.
func NewBook() *Book {
	return &Book{deals: map[string]*deal{}, parties: map[Party]*ledger{}}
}

// Applied and Skipped count the facts applied and refused so far.
func (b *Book) Applied() uint64 { return b.applied }

// Skipped counts the facts that did not apply.
func (b *Book) Skipped() uint64 { return b.skipped }

// Apply adds one fact. Facts must come in log order. A fact that does not
// apply returns an error wrapping ErrUnknownDeal, ErrDuplicate,
// ErrOutOfOrder or ErrBadFact and changes nothing but the skipped count.
func (b *Book) Apply(f Fact) error {
	err := b.apply(f)
	if err != nil {
		b.skipped++
		return fmt.Errorf("reputation: leaf %d (session %s): %w", f.Where().Leaf, f.Where().Session, err)
	}
	b.applied++
	return nil
}

func (b *Book) apply(f Fact) error {
	if d, ok := f.(DealSigned); ok {
		return b.addDeal(d)
	}
	r := f.Where()
	d, ok := b.deals[r.Session]
	if !ok {
		return ErrUnknownDeal
	}
	if r.At < d.At || d.resolvedAt != 0 {
		return ErrOutOfOrder
	}
	before := [2]dealFigures{figuresOf(d, RoleSeller), figuresOf(d, RoleBuyer)}
	if err := applyEvent(d, f); err != nil {
		return err
	}
	for s := range 2 {
		d.ledgers[s].changed(d, s, before[s])
	}
	return nil
}

// addDeal records a signed deal.
func (b *Book) addDeal(f DealSigned) error {
	if _, dup := b.deals[f.Session]; dup {
		return ErrDuplicate
	}
	scale, err := anp.CurrencyScale(f.Value.Currency)
	switch {
	case err != nil:
		return fmt.Errorf("%w: value: %v", ErrBadFact, err)
	case f.Value.Amount < 0 || f.Value.Amount > anp.MaxAmount:
		return fmt.Errorf("%w: value out of range", ErrBadFact)
	case f.Seller == "" || f.Buyer == "" || f.Seller == f.Buyer || f.Session == "":
		return fmt.Errorf("%w: deal needs a session and two different parties", ErrBadFact)
	}
	d := &deal{DealSigned: f, seq: len(b.deals), value: valueWeight(f.Value.Amount, scale)}
	b.deals[f.Session] = d
	b.addToLedgers(d)
	return nil
}

// applyEvent applies an event fact to its deal, or says why it does not apply.
func applyEvent(d *deal, f Fact) error {
	at := f.Where().At
	switch e := f.(type) {
	case Fulfilled:
		if d.fulfilled != 0 {
			return ErrDuplicate
		}
		d.fulfilled = at
	case Received:
		if d.received != 0 {
			return ErrDuplicate
		}
		d.received = at
	case Breached:
		return setOnce(&d.breachBy, &d.breachAt, e.By, at, "breach")
	case DisputeOpened:
		return setOnce(&d.disputeBy, &d.disputeAt, e.By, at, "dispute")
	case DisputeResolved:
		return resolve(d, e)
	default:
		return fmt.Errorf("%w: fact of type %T", ErrBadFact, f)
	}
	return nil
}

// resolve applies a dispute's decision.
func resolve(d *deal, e DisputeResolved) error {
	switch {
	case e.Winner != ForBuyer && e.Winner != ForSeller && e.Winner != Split:
		return fmt.Errorf("%w: dispute winner %q", ErrBadFact, e.Winner)
	case d.disputeBy == "":
		return ErrOutOfOrder
	}
	d.winner, d.resolvedAt = e.Winner, e.At
	return nil
}

// setOnce records that side by did what at a time, once.
func setOnce(who *Role, when *int64, by Role, at int64, what string) error {
	switch {
	case by != RoleSeller && by != RoleBuyer:
		return fmt.Errorf("%w: %s by %q", ErrBadFact, what, by)
	case *who != "":
		return ErrDuplicate
	}
	*who, *when = by, at
	return nil
}

// Parties returns every party with a deal, sorted.
func (b *Book) Parties() []Party {
	out := make([]Party, 0, len(b.parties))
	for p := range b.parties {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
