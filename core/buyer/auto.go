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
		if dec.Action == ActionCounter && s.Turn+1 > c.maxTurns(&s) {
			dec = Decision{Action: ActionExit, Message: "Max turns reached."}
		}
		switch dec.Action {
		case ActionAccept:
			_, err = c.Counter(ctx, id, dec.Price, dec.Message)
		case ActionCounter:
			_, err = c.Counter(ctx, id, dec.Price, dec.Message)
		case ActionExit:
			s, err = c.Cancel(ctx, id, nonEmpty(dec.Message, "buyer exited"))
			if err == nil {
				s.State = StateCancelled
			}
			return s, err
		}
		if errors.Is(err, ErrBusy) {
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
