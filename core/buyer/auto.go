package buyer

import (
	"context"
	"errors"
	"fmt"
)

// Negotiate drives a session with d until it is CONFIRMED (approval is then
// required from the caller), ends, or ctx is done. Every decision passes
// Guard first. Asynchronous seller answers are awaited.
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
		dec, note := Guard(s, dec)
		if note != "" {
			c.log.Info().Str("session", id).Str("source", dec.Source).Msg("guardrail: " + note)
			c.logEvent("guardrail on " + id + ": " + note)
		}
		if dec.Action == ActionCounter && s.Turn+1 > c.maxTurns(&s) { // accepting the standing price stays allowed
			dec = Decision{Action: ActionExit, Message: "Max turns reached."}
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

// Named is implemented by deciders that can say what they are.
type Named interface{ Name() string }

// DeciderName returns d's name for logs and snapshots.
func DeciderName(d Decider) string {
	if n, ok := d.(Named); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", d)
}

// Name implements Named.
func (k Concession) Name() string { return "strategy:concession" }

// setDecider records which decider drives a session.
func (c *Core) setDecider(ctx context.Context, id, name string) error {
	m := c.lock(id)
	m.Lock()
	defer m.Unlock()
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
