package buyer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// This file is how a seller's asynchronous answer reaches a session: a signed
// callback pushed over the registry WebSocket, or a nudge that asks again
// after a silence; and how callers wait for that answer.

// callbackWait bounds how long a seller callback waits for its session.
const callbackWait = time.Second

// handleCallback processes a seller envelope pushed over the WebSocket.
// Duplicates (same envelope hash) are acknowledged without effect.
func (c *Core) handleCallback(ctx context.Context, env *anp.Envelope) error {
	if !anp.ValidSessionID(env.Session) {
		return anp.Errorf(anp.CodeBadRequest, "callback for a malformed session id")
	}
	unlock, err := c.locks.LockWithin(ctx, env.Session, callbackWait)
	if err != nil {
		// A move on this session is in flight: let the registry redeliver
		// instead of holding up every other session's callbacks.
		return anp.Errorf(anp.CodeUnavailable, "session %s is busy; deliver again", env.Session)
	}
	defer unlock()
	r, err := c.load(ctx, env.Session)
	if errors.Is(err, ErrNotFound) {
		return anp.Errorf(anp.CodeNotFound, "callback for unknown session %s", env.Session)
	}
	if err != nil {
		return anp.Errorf(anp.CodeInternal, "%v", err)
	}
	dup, err := r.Transcript.Holds(env)
	switch {
	case err != nil:
		return anp.Errorf(anp.CodeBadRequest, "%v", err)
	case dup:
		c.log.Debug().Str("session", r.Session.ID).Uint64("seq", env.Seq).Msg("duplicate callback ignored")
		return nil
	case r.Session.State.Terminal():
		return anp.Errorf(anp.CodeBadState, "callback for session %s, which is %s", r.Session.ID, r.Session.State)
	}
	key, err := c.sessionKey(r)
	if err != nil {
		return anp.Errorf(anp.CodeInternal, "%v", err)
	}
	if err := r.confirmOutboxBy(key, env, c.cfg.Now()); err != nil {
		return anp.Errorf(anp.CodeInternal, "%v", err)
	}
	if env.Seq > r.Transcript.NextSeq() {
		// Ahead of what this store holds (another pod has not saved yet): later.
		return anp.Errorf(anp.CodeUnavailable, "callback seq %d is ahead of session %s (next %d); deliver again", env.Seq, r.Session.ID, r.Transcript.NextSeq())
	}
	if err := c.takeSeller(r, key, env); err != nil {
		return err
	}
	if err := c.save(ctx, r); err != nil {
		return anp.Errorf(anp.CodeInternal, "%v", err)
	}
	c.log.Info().Str("session", r.Session.ID).Uint64("seq", env.Seq).Str("type", string(env.Type)).Str("state", string(r.Session.State)).Msg("applied seller answer")
	c.emitFor(r)
	return nil
}

// Nudge re-sends, byte for byte, the buyer's last envelope of a session that
// is waiting for the seller. The registry answers an identical resend with
// the seller's answer if it has one, or asks the seller again, which returns
// its earlier answer; nothing is ever sent twice in the transcript.
func (c *Core) Nudge(ctx context.Context, id string) error {
	unlock, err := c.locks.LockWithin(ctx, id, callbackWait)
	if err != nil {
		return fmt.Errorf("session %s: %w", id, ErrBusy)
	}
	defer unlock()
	r, err := c.load(ctx, id)
	if err != nil {
		return err
	}
	last := r.Transcript.Last()
	if !r.Session.AwaitingSeller || r.Session.State.Terminal() || last == nil || last.From == r.SellerKey {
		return nil
	}
	key, err := c.sessionKey(r)
	if err != nil {
		return err
	}
	resp, err := c.cfg.Registry.Relay(ctx, r.Session.Seller, last)
	if err != nil {
		return remoteError("re-ask "+r.Session.Seller, err)
	}
	if resp.Reply == nil {
		return nil // still pending at the seller
	}
	if err := c.takeSeller(r, key, resp.Reply); err != nil {
		return err
	}
	if err := c.save(ctx, r); err != nil {
		return err
	}
	c.emitFor(r)
	return nil
}

// WaitForSeller blocks until the session is no longer waiting for the seller
// (an ESCALATED session waits on, for the seller's person), or ctx ends. It
// returns the latest snapshot.
func (c *Core) WaitForSeller(ctx context.Context, id string) (Session, error) {
	return c.waitUntil(ctx, id, func(s *Session) bool {
		return !s.AwaitingSeller && s.State != StateProposed || s.State.Terminal()
	}, nil)
}

// waiters wakes whoever waits for a session to change.
type waiters struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

// next returns a channel closed at the session's next save.
func (w *waiters) next(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = map[string]chan struct{}{}
	}
	ch, ok := w.ch[id]
	if !ok {
		ch = make(chan struct{})
		w.ch[id] = ch
	}
	return ch
}

// wake wakes the waiters of one session; "" (a notifier that may have missed
// events) wakes every waiter so each re-reads its session.
func (w *waiters) wake(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if id == "" {
		for k, ch := range w.ch {
			close(ch)
			delete(w.ch, k)
		}
		return
	}
	if ch, ok := w.ch[id]; ok {
		close(ch)
		delete(w.ch, id)
	}
}
