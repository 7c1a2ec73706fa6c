// Package keyedlock serialises work per key (a session id, a domain). A key's
// lock exists only while somebody holds or waits for it, so a long-running
// process keeps no lock per key it ever saw.
package keyedlock

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrTimeout is returned when a lock could not be taken within the wait.
var ErrTimeout = errors.New("lock not free within the wait")

// Map holds one lock per key. The zero value is ready to use; a Map must not
// be copied after first use.
type Map struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	ch   chan struct{} // holds a token while the key is locked
	refs int           // holders and waiters
}

// Lock locks key, waiting as long as it takes, and returns the unlock function.
func (k *Map) Lock(key string) (unlock func()) {
	e := k.ref(key)
	e.ch <- struct{}{}
	return k.unlocker(key, e)
}

// LockWithin locks key, waiting at most wait and not past ctx. A wait of 0
// tries once. It returns ErrTimeout (or ctx's error) when the lock stayed taken.
func (k *Map) LockWithin(ctx context.Context, key string, wait time.Duration) (unlock func(), err error) {
	e := k.ref(key)
	select {
	case e.ch <- struct{}{}:
		return k.unlocker(key, e), nil
	default:
	}
	if wait > 0 && ctx.Err() == nil {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case e.ch <- struct{}{}:
			return k.unlocker(key, e), nil
		case <-t.C:
		case <-ctx.Done():
			k.unref(key, e)
			return nil, ctx.Err()
		}
	}
	k.unref(key, e)
	return nil, ErrTimeout
}

// Len returns how many keys have a holder or a waiter.
func (k *Map) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

func (k *Map) ref(key string) *entry {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[string]*entry)
	}
	e, ok := k.m[key]
	if !ok {
		e = &entry{ch: make(chan struct{}, 1)}
		k.m[key] = e
	}
	e.refs++
	return e
}

func (k *Map) unref(key string, e *entry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		delete(k.m, key)
	}
}

func (k *Map) unlocker(key string, e *entry) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.ch
			k.unref(key, e)
		})
	}
}
