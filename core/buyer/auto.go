package buyer

import (
	"context"
	"errors"
	"fmt"
)

// Negotiate drives a session with d until it is CONFIRMED (approval is then
// required from the caller), ends, or ctx is done. Every decision passes
// Session.PlanDecision (Guard and the turn limit) first, and every move goes
// through the same checks as a move by hand. Asynchronous seller answers are
// awaited.
func (c *Core) Negotiate(ctx context.Context, id string, d Decider) (Session, error) {
	if err := c.setDecider(ctx, id, DeciderName(d)); err != nil {
		return Session{}, err
	}
	for {
		s, err := c.WaitForSeller(ctx, id)
		if err != nil {
			return s, err
		}
		if s.State != StateCountered {
			return s, nil
		}
		dec, err := d.Decide(ctx, s)
		if err != nil {
			return s, fmt.Errorf("decide next move for %s: %w", id, err)
		}
		dec, note := s.PlanDecision(dec)
		if note != "" {
			c.log.Info().Str("session", id).Str("source", dec.Source).Msg("guardrail: " + note)
			c.events.log("guardrail on " + id + ": " + note)
		}
		switch dec.Action {
		case ActionAccept, ActionCounter:
			_, err = c.CounterAtTurn(ctx, id, s.Turn, dec.Price, dec.Message)
		case ActionExit:
			return c.Cancel(ctx, id, nonEmpty(dec.Message, "buyer exited"))
		}
		if errors.Is(err, ErrBusy) || errors.Is(err, ErrConflict) { // the session moved on: decide again
			continue
		}
		if err != nil {
			cur, gerr := c.GetSession(context.WithoutCancel(ctx), id)
			if gerr != nil {
				return s, err
			}
			return cur, err
		}
	}
}

// NegotiateAutonomously is Negotiate for a session the user left to a
// decider: once the seller confirms, the deal is signed without asking only
// when Config.AutoApproveBelow allows it (a price strictly below the ceiling,
// in its currency); otherwise the session waits CONFIRMED for a person.
func (c *Core) NegotiateAutonomously(ctx context.Context, id string, d Decider) (Session, error) {
	s, err := c.Negotiate(ctx, id, d)
	if err != nil || !c.autoApproves(s) {
		return s, err
	}
	c.log.Info().Str("session", id).Str("price", s.AgreedPrice.String()).Msg("auto-approving below the configured ceiling")
	if _, err := c.ApproveAndSign(ctx, id); err != nil {
		return s, err
	}
	return c.GetSession(ctx, id)
}

// autoApproves reports whether the auto-approve ceiling covers a CONFIRMED
// session's agreed price.
func (c *Core) autoApproves(s Session) bool {
	ceil := c.cfg.AutoApproveBelow
	return ceil != nil && s.State == StateConfirmed && s.AgreedPrice != nil &&
		s.AgreedPrice.Currency == ceil.Currency && s.AgreedPrice.Amount < ceil.Amount
}

// setDecider records which decider drives a session.
func (c *Core) setDecider(ctx context.Context, id, name string) error {
	unlock := c.locks.Lock(id) // a lock exists only while held, so an unknown id leaves nothing behind
	defer unlock()
	r, err := c.load(ctx, id)
	if err != nil {
		return err
	}
	if r.Session.Decider == name {
		return nil
	}
	r.Session.Decider = name
	return c.save(ctx, r)
}
