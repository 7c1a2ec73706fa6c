package buyer

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// roomRetries bounds how often a room change is retried when another
// writer (another pod) saved the session in between.
const roomRetries = 8

// updateSession loads session id under its lock, applies fn and saves the
// result with the store's version check, retrying from a fresh load when
// another engine saved in between. fn returning an error saves nothing.
func (c *Core) updateSession(ctx context.Context, id string, fn func(r *record) error) (Session, error) {
	for range roomRetries {
		s, err := c.updateOnce(ctx, id, fn)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return s, err
	}
	return Session{}, fmt.Errorf("session %s: %w: it kept changing; try again", id, ErrBusy)
}

func (c *Core) updateOnce(ctx context.Context, id string, fn func(r *record) error) (Session, error) {
	unlock, err := c.locks.LockWithin(ctx, id, moveWait)
	if err != nil {
		return Session{}, fmt.Errorf("session %s: %w", id, ErrBusy)
	}
	defer unlock()
	r, err := c.load(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if err := fn(r); err != nil {
		return Session{}, err
	}
	if err := c.save(ctx, r); err != nil {
		return Session{}, err
	}
	return r.Session, nil
}

// knownParticipant reports whether name is a configured participant.
func (c *Core) knownParticipant(name string) bool {
	return name != "" && slices.Contains(c.cfg.Participants, name)
}

// OpenDecision opens the decision room of a CONFIRMED session: the named
// participants decide by spec.Rule on the agreed price before the deadline
// (pending at the deadline means deny). opener names who opened it.
func (c *Core) OpenDecision(ctx context.Context, id, opener string, spec RoomSpec) (Session, error) {
	return c.updateSession(ctx, id, func(r *record) error {
		s := &r.Session
		now := c.cfg.Now().UTC()
		if s.State != StateConfirmed || !now.Before(s.Deadline) {
			return fmt.Errorf("session %s: %w: a decision room needs a CONFIRMED session before its deadline, the session is %s", id, ErrBadState, s.State)
		}
		if s.Decision != nil {
			return fmt.Errorf("session %s: %w (opened by %s at %s)", id, ErrRoomExists, s.Decision.OpenedBy, s.Decision.OpenedAt.Format("15:04:05"))
		}
		d, err := newDecision(spec, c.knownParticipant, opener, *s.AgreedPrice, now, s.Deadline)
		if err != nil {
			return fmt.Errorf("session %s: %w", id, err)
		}
		s.Decision = d
		return nil
	})
}

// CastVote records participant's vote in the session's room. participant is
// the caller as the entry point authenticated it, never a name the caller
// chose; a participant votes once, only in its own name.
func (c *Core) CastVote(ctx context.Context, id, participant string, v Vote) (Session, error) {
	if !c.knownParticipant(participant) {
		return Session{}, fmt.Errorf("session %s: %w: votes need a participant's own credential", id, ErrUnknownParticipant)
	}
	return c.updateSession(ctx, id, func(r *record) error {
		d := r.Session.Decision
		if d == nil {
			return fmt.Errorf("session %s: %w: open_decision first", id, ErrNoRoom)
		}
		now := c.cfg.Now().UTC()
		settled := *d.settle(now)
		settled.Votes = slices.Clone(d.Votes)
		if err := settled.cast(participant, v, now); err != nil {
			return fmt.Errorf("session %s: %w", id, err)
		}
		r.Session.Decision = &settled
		c.log.Info().Str("session", id).Str("participant", participant).Str("choice", v.Choice).Str("room", string(settled.Outcome)).Msg("vote cast")
		return nil
	})
}

// GetDecision returns the session's room as it stands now (a room past its
// deadline without a decision reads deny).
func (c *Core) GetDecision(ctx context.Context, id string) (Room, error) {
	s, err := c.GetSession(ctx, id)
	if err != nil {
		return Room{}, err
	}
	if s.Decision == nil {
		return Room{}, fmt.Errorf("session %s: %w", id, ErrNoRoom)
	}
	return *s.Decision.settle(c.cfg.Now().UTC()), nil
}
