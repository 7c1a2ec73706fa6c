package notify

import (
	"context"
	"sync"
	"sync/atomic"
)

// localQueue is how many notifications a Local subscriber may fall behind
// before they collapse into one AllSessions.
const localQueue = 256

// Local is an in-process Notifier. Publish never blocks: a subscriber that
// falls localQueue notifications behind gets AllSessions instead of the
// ones it missed.
type Local struct {
	mu   sync.Mutex
	subs map[*localSub]struct{}
}

type localSub struct {
	ch   chan string
	lost atomic.Bool
}

var _ Notifier = (*Local)(nil)

// NewLocal returns an in-process notifier.
func NewLocal() *Local {
	return &Local{subs: map[*localSub]struct{}{}}
}

// Publish queues sessionID for every current subscriber.
func (l *Local) Publish(ctx context.Context, sessionID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID(sessionID); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs {
		select {
		case s.ch <- sessionID:
		default:
			s.lost.Store(true)
		}
	}
	return nil
}

// Subscribe calls fn(AllSessions) once, then fn for each published ID,
// until ctx is done.
func (l *Local) Subscribe(ctx context.Context, fn func(sessionID string)) error {
	s := &localSub{ch: make(chan string, localQueue)}
	l.mu.Lock()
	l.subs[s] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.subs, s)
		l.mu.Unlock()
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	fn(AllSessions)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case id := <-s.ch:
			if s.lost.Swap(false) {
				// The queue overflowed: what is still queued is a subset of
				// what changed, so one AllSessions covers it all.
				drain(s.ch)
				fn(AllSessions)
				continue
			}
			fn(id)
		}
	}
}

// drain empties ch without blocking.
func drain(ch chan string) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
