package buyer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// This file is how a caller waits for a seller's answer without polling:
// every saved change of a session closes the channel its waiters hold
// (waiters, callbacks.go), a seller callback saves the session, and so the
// wait wakes exactly when something happened. It is also where everything
// outside the engine learns that a session changed (OnSessionChange).

// Bounds of AwaitAnswer.
const (
	// DefaultAnswerWait is how long a move waits for an asynchronous
	// seller's answer when its caller does not say.
	DefaultAnswerWait = 15 * time.Second
	// MaxAnswerWait is the longest a move waits; a longer bound is cut to
	// it. It stays under the 60 s a host commonly allows a tool call.
	MaxAnswerWait = 45 * time.Second
)

// Answered reports whether the seller has had its say: the buyer may move,
// the session ended, or a person on the seller's side is reviewing it
// (ESCALATED, which may take far longer than a tool call).
func (s *Session) Answered() bool {
	return s.State.Terminal() || s.State == StateEscalated || !s.AwaitingSeller && s.State != StateProposed
}

// AwaitAnswer waits until the seller has answered session id (see
// Session.Answered), at most bound (DefaultAnswerWait when bound <= 0, at
// most MaxAnswerWait), and returns the latest snapshot: one still waiting
// for the seller when the bound passed. changed, when set, is called with
// each new version of the session seen while waiting. A ctx that ends stops
// the wait with an error wrapping ctx's; the bound passing is not an error.
// The wait wakes on saves (seller callbacks, other engines through the
// Notifier), not on a polling clock.
func (c *Core) AwaitAnswer(ctx context.Context, id string, bound time.Duration, changed func(Session)) (Session, error) {
	bound = AnswerWait(bound)
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	s, err := c.waitUntil(wctx, id, (*Session).Answered, changed)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && s.ID != "" {
		return s, nil // the bound passed: the snapshot says it still waits
	}
	return s, err
}

// AnswerWait is the bound AwaitAnswer applies for a requested one.
func AnswerWait(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return DefaultAnswerWait
	case d > MaxAnswerWait:
		return MaxAnswerWait
	}
	return d
}

// waitUntil blocks until done(session) or ctx ends, re-reading the session
// at each of its saves. After a long silence it nudges the seller (Nudge):
// the answer may have been lost on the way.
func (c *Core) waitUntil(ctx context.Context, id string, done func(*Session) bool, changed func(Session)) (Session, error) {
	var seen int64 = -1
	for {
		ch := c.waiters.next(id)
		s, err := c.GetSession(ctx, id)
		if err != nil {
			return Session{}, err
		}
		if changed != nil && seen >= 0 && s.Version != seen {
			changed(s)
		}
		seen = s.Version
		if done(&s) {
			return s, nil
		}
		t := time.NewTimer(c.cfg.NudgeAfter)
		select {
		case <-ch:
		case <-t.C:
			// A long silence: the seller's answer may have been lost on the
			// way (its callback gave up). Re-sending our last envelope makes
			// the registry and the seller hand the answer over again.
			if err := c.Nudge(ctx, id); err != nil {
				c.log.Debug().Str("session", id).Err(err).Msg("nudge")
			}
		case <-ctx.Done():
			t.Stop()
			return s, fmt.Errorf("session %s: still waiting for the seller: %w", id, ctx.Err())
		}
		t.Stop()
	}
}

// OnSessionChange registers fn, called with a session's id after each
// change of it: every save by this engine, every change another engine
// sharing the store announces through the Notifier, and every
// SessionChanged. fn runs on the goroutine that made the change, possibly
// while it holds the session's lock: it must be quick and must not call
// back into the engine synchronously. The returned function removes fn.
func (c *Core) OnSessionChange(fn func(id string)) (remove func()) {
	return c.changes.add(fn)
}

// SessionChanged announces a change of session id that is kept outside the
// session's record (a vote on a decision about it, say): waiters wake,
// OnSessionChange hooks run, and other engines sharing the store hear of it
// through the Notifier.
func (c *Core) SessionChanged(ctx context.Context, id string) {
	c.changed(id)
	if c.cfg.Notifier != nil {
		if err := c.cfg.Notifier.Publish(ctx, id); err != nil {
			c.log.Warn().Err(err).Str("session", id).Msg("publish session change")
		}
	}
}

// changed wakes the waiters of id and runs the change hooks. "" (a
// notifier that may have missed events) wakes every waiter and runs no hook.
func (c *Core) changed(id string) {
	if id != "" {
		c.changes.call(id) // before the waiters: a subscriber hears of the change before a waiting call returns
	}
	c.waiters.wake(id)
}

// hookSet is a set of functions called with each T, safe for concurrent
// use: the engine's event subscribers and its session-change hooks.
type hookSet[T any] struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(T)
}

// add registers fn and returns a function that removes it.
func (h *hookSet[T]) add(fn func(T)) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fns == nil {
		h.fns = map[int]func(T){}
	}
	id := h.next
	h.next++
	h.fns[id] = fn
	return func() {
		h.mu.Lock()
		delete(h.fns, id)
		h.mu.Unlock()
	}
}

// call calls every function with v, outside the set's lock.
// empty reports whether no function is registered.
func (h *hookSet[T]) empty() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.fns) == 0
}

func (h *hookSet[T]) call(v T) {
	h.mu.Lock()
	fns := make([]func(T), 0, len(h.fns))
	for _, fn := range h.fns {
		fns = append(fns, fn)
	}
	h.mu.Unlock()
	for _, fn := range fns {
		fn(v)
	}
}
