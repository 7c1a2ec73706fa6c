package buyer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// CascadeOrder is how a cascade takes its sellers: one after the other, or
// all at once.
type CascadeOrder string

// Cascade orders.
const (
	CascadeSequential CascadeOrder = "sequential" // squeeze: each deal's price becomes the local ceiling for the next seller
	CascadeParallel   CascadeOrder = "parallel"   // race: all sellers at once, the cheapest confirmed deal wins
)

// CascadeRequest configures NegotiateCascade.
type CascadeRequest struct {
	Category         string
	Constraints      Constraints
	Mode             anp.Mode      // default ANP/C
	MaxSellers       int           // 0 means 3; 1 to 10
	Order            CascadeOrder  // sequential (default) or parallel
	PerSellerTimeout time.Duration // default 30s; a silent seller is cancelled when it passes
	Decider          Decider       // plays every seller's turns; required
	// Progress, when set, is called once per seller as its negotiation ends,
	// one call at a time: done counts the sellers finished so far and total
	// is how many the cascade negotiates with (known once discovery returned).
	Progress func(o CascadeOutcome, done, total int)
	// MinTrust skips sellers whose reputation (0..100) is below it; the
	// engine's Config.MinTrust is the floor.
	MinTrust float64
}

// normalize fills in the defaults and refuses a request that cannot run.
func (req *CascadeRequest) normalize() error {
	if req.Mode == "" {
		req.Mode = anp.ModeC
	}
	if req.MaxSellers == 0 {
		req.MaxSellers = 3
	}
	if req.MaxSellers < 1 || req.MaxSellers > 10 {
		return fmt.Errorf("%w: max_sellers %d must be between 1 and 10", ErrInvalidInput, req.MaxSellers)
	}
	if req.Order == "" {
		req.Order = CascadeSequential
	}
	if req.Order != CascadeSequential && req.Order != CascadeParallel {
		return fmt.Errorf("%w: the cascade order (strategy) %q must be sequential or parallel", ErrInvalidInput, req.Order)
	}
	if req.PerSellerTimeout <= 0 {
		req.PerSellerTimeout = 30 * time.Second
	}
	if req.Decider == nil {
		return fmt.Errorf("%w: a cascade needs a decider to play the turns", ErrInvalidInput)
	}
	req.Category = strings.TrimSpace(req.Category)
	return req.Constraints.normalize()
}

// CascadeOutcome reports how one seller's negotiation ended.
type CascadeOutcome struct {
	Seller    string     `json:"seller"`
	SessionID string     `json:"session_id,omitempty"`
	Outcome   string     `json:"outcome"` // confirmed, outbid, stalemate, cancelled, timeout, error, skipped
	Price     *anp.Money `json:"price,omitempty"`
	Detail    string     `json:"detail,omitempty"`
}

// CascadeResult is the winner (CONFIRMED, awaiting approval) and every outcome.
type CascadeResult struct {
	Winner   *Session         `json:"winner,omitempty"`
	Outcomes []CascadeOutcome `json:"outcomes"`
}

// NegotiateCascade discovers sellers in a category and negotiates with up to
// MaxSellers of them. Exactly one session at most is left CONFIRMED (the
// winner); every other session is cancelled. The ceiling is never sent.
func (c *Core) NegotiateCascade(ctx context.Context, req CascadeRequest) (*CascadeResult, error) {
	if err := req.normalize(); err != nil {
		return nil, err
	}
	// A parallel cascade's proposals all leave at once: one look at the
	// registry's log, taken while discovery runs, serves them all, and each
	// goes to the listing discovery returned, verified. When the look
	// fails, each proposal checks again and reports its own refusal.
	var logOK <-chan bool
	if req.Order == CascadeParallel {
		logOK = c.lookAtLog(ctx, "cascade in "+req.Category)
	}
	listings, err := c.cfg.Registry.DiscoverMin(ctx, req.Category, req.Mode, req.MaxSellers, c.minTrust(req.MinTrust))
	if err != nil {
		return nil, remoteError("discover "+req.Category, err)
	}
	if len(listings) > req.MaxSellers {
		listings = listings[:req.MaxSellers]
	}
	if len(listings) == 0 {
		return &CascadeResult{}, fmt.Errorf("no sellers found in category %q for %s%s: %w", req.Category, req.Mode, trustNote(c.minTrust(req.MinTrust)), ErrNotFound)
	}
	run := &cascadeRun{c: c, req: req, total: len(listings), res: &CascadeResult{}}
	if req.Order == CascadeParallel {
		run.atOnce = <-logOK
		run.race(ctx, listings)
	} else {
		run.squeeze(ctx, listings)
	}
	res := run.res
	if res.Winner != nil {
		c.releaseHold(ctx, res.Winner.ID)
		if s, err := c.GetSession(ctx, res.Winner.ID); err == nil {
			res.Winner = &s
			c.events.emit(Event{Type: EventApprovalRequired, Session: &s})
		}
	}
	return res, nil
}

// lookAtLog checks the registry's log (checkRegistryLog) in the background
// and reports on the channel whether it may be trusted.
func (c *Core) lookAtLog(ctx context.Context, op string) <-chan bool {
	ok := make(chan bool, 1) // the look ends even when nobody waits for it
	go func() { ok <- c.checkRegistryLog(ctx, op) == nil }()
	return ok
}

// cascadeRun is one cascade under way.
type cascadeRun struct {
	c     *Core
	req   CascadeRequest
	total int // sellers to negotiate with
	res   *CascadeResult
	// atOnce: every proposal leaves now, the registry's log was checked
	// for them all and the discovered listings are fresh.
	atOnce bool

	mu   sync.Mutex // serialises progress reports of parallel negotiations
	done int
}

// report announces one seller's outcome.
func (r *cascadeRun) report(o CascadeOutcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if r.req.Progress != nil {
		r.req.Progress(o, r.done, r.total)
	}
}

// runOne negotiates with one seller under the per-seller deadline and cancels
// the session unless it ended CONFIRMED.
func (r *cascadeRun) runOne(ctx context.Context, l anp.Listing, cons Constraints) (CascadeOutcome, *Session) {
	c, req := r.c, r.req
	out := CascadeOutcome{Seller: l.Record.Record.Domain}
	sctx, cancel := context.WithTimeout(ctx, req.PerSellerTimeout)
	defer cancel()
	addr := anp.Address{Mode: req.Mode, Domain: l.Record.Record.Domain}.String()
	opt := ProposeOptions{Hold: true}
	if r.atOnce {
		opt.logChecked, opt.listing = true, &l
	}
	s, err := c.ProposeDeal(sctx, addr, cons, opt)
	if err != nil {
		out.Outcome, out.Detail = "error", err.Error()
		if sctx.Err() != nil {
			out.Outcome = "timeout"
		}
		return out, nil
	}
	out.SessionID = s.ID
	s, err = c.Negotiate(sctx, s.ID, req.Decider)
	switch {
	case err != nil && sctx.Err() != nil:
		out.Outcome, out.Detail = "timeout", fmt.Sprintf("no agreement within %s", req.PerSellerTimeout)
	case s.State == StateConfirmed:
		out.Outcome, out.Price = "confirmed", s.AgreedPrice
		return out, &s
	case s.State == StateStalemate:
		out.Outcome, out.Detail = "stalemate", s.Reason
	case s.State == StateCancelled:
		out.Outcome, out.Detail = "cancelled", s.Reason
	default:
		out.Outcome, out.Detail = "error", fmt.Sprintf("ended %s: %v %s", s.State, err, s.Reason)
	}
	c.cancelQuietly(ctx, s.ID, out.Outcome)
	return out, nil
}

// squeeze negotiates with one seller after the other; each deal's price is
// the local ceiling for the next seller. When no lower price is possible, or
// ctx ends, the sellers left are reported as skipped.
func (r *cascadeRun) squeeze(ctx context.Context, listings []anp.Listing) {
	c, res := r.c, r.res
	cons := r.req.Constraints
	var best *Session
	var bestIdx int
	for _, l := range listings {
		if ctx.Err() != nil || cons.MaxBudget.Amount <= 0 {
			out := CascadeOutcome{Seller: l.Record.Record.Domain, Outcome: "skipped", Detail: "no lower price was possible"}
			if ctx.Err() != nil {
				out.Detail = "the cascade was stopped"
			}
			res.Outcomes = append(res.Outcomes, out)
			r.report(out)
			continue
		}
		out, s := r.runOne(ctx, l, cons)
		if s != nil {
			if best == nil || s.AgreedPrice.Amount < best.AgreedPrice.Amount {
				if best != nil {
					c.cancelQuietly(ctx, best.ID, "outbid")
					res.Outcomes[bestIdx].Outcome = "outbid"
				}
				best, bestIdx = s, len(res.Outcomes)
				// Local ceiling only: the next seller must beat this price.
				cons.MaxBudget.Amount = s.AgreedPrice.Amount - 1
			} else {
				c.cancelQuietly(ctx, s.ID, "outbid")
				out.Outcome = "outbid"
			}
		}
		res.Outcomes = append(res.Outcomes, out)
		r.report(out)
	}
	res.Winner = best
}

// race negotiates with every seller at once; the cheapest confirmed deal
// wins (of equal prices, the seller listed first) and the others are
// cancelled. A confirmed deal is cancelled as soon as a cheaper one is
// known, while the other sellers still negotiate, so that at most one
// cancellation is left once the last seller has had its say.
func (r *cascadeRun) race(ctx context.Context, listings []anp.Listing) {
	p := &podium{results: make([]raceResult, len(listings)), best: -1}
	var wg sync.WaitGroup
	for i, l := range listings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, s := r.runOne(ctx, l, r.req.Constraints)
			r.report(out)
			if loser := p.place(i, out, s); loser != nil {
				r.c.cancelQuietly(ctx, loser.ID, "outbid")
			}
		}()
	}
	wg.Wait()
	if p.best >= 0 {
		r.res.Winner = p.results[p.best].s
	}
	for _, res := range p.results {
		r.res.Outcomes = append(r.res.Outcomes, res.out)
	}
}

// raceResult is how one seller's negotiation in a race ended.
type raceResult struct {
	out CascadeOutcome
	s   *Session // the CONFIRMED session, nil otherwise
}

// podium keeps the results of a race and its cheapest confirmed deal so far.
type podium struct {
	mu      sync.Mutex
	results []raceResult // by listing order
	best    int          // index of the cheapest confirmed deal, -1 while none
}

// place records the result of seller i and returns the confirmed session
// that lost its place to it, or s itself when a cheaper (or equally cheap
// and earlier listed) deal is already known; nil when nothing is outbid.
// The outbid result is marked so.
func (p *podium) place(i int, out CascadeOutcome, s *Session) *Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.results[i] = raceResult{out, s}
	if s == nil {
		return nil
	}
	loser := i
	if p.best < 0 || p.cheaper(i, p.best) {
		loser, p.best = p.best, i
	}
	if loser < 0 {
		return nil
	}
	p.results[loser].out.Outcome = "outbid"
	return p.results[loser].s
}

// cheaper reports whether deal i beats deal j: a lower price, or the same
// price from a seller listed earlier.
func (p *podium) cheaper(i, j int) bool {
	a, b := p.results[i].s.AgreedPrice.Amount, p.results[j].s.AgreedPrice.Amount
	return a < b || a == b && i < j
}

// cancelQuietly cancels a session unless it already ended, logging failures.
func (c *Core) cancelQuietly(ctx context.Context, id, reason string) {
	if id == "" {
		return
	}
	s, err := c.GetSession(ctx, id)
	if err != nil || s.State.Terminal() {
		return
	}
	// The seller only learns that the buyer withdrew, never that it is shopping around.
	if _, err := c.cancelAs(context.WithoutCancel(ctx), id, reason, withdrawMessage); err != nil {
		c.log.Warn().Str("session", id).Err(err).Msg("cascade: cancel loser")
	}
}

// releaseHold clears the cascade hold on the winning session.
func (c *Core) releaseHold(ctx context.Context, id string) {
	unlock := c.locks.Lock(id)
	defer unlock()
	r, err := c.load(ctx, id)
	if err != nil || !r.CascadeHold {
		return
	}
	r.CascadeHold = false
	if err := c.save(ctx, r); err != nil {
		c.log.Warn().Str("session", id).Err(err).Msg("cascade: release hold")
	}
}

// trustNote names a reputation floor in a message ("" for none).
func trustNote(minTrust float64) string {
	if minTrust <= 0 {
		return ""
	}
	return fmt.Sprintf(" with a reputation of at least %g", minTrust)
}
