package registry

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// ErrLogFork marks every error caused by a forked registry log: the
// registry signed two tree heads that cannot both be true. Once a client
// has seen a fork it refuses every new deal with that registry.
var ErrLogFork = errors.New("registry log fork")

// HeadStore keeps a client's log-watch state across restarts. Load returns
// the zero WatchState when nothing was saved yet. Implementations need not
// be safe for concurrent use: the client serialises its calls.
type HeadStore interface {
	Load() (WatchState, error)
	Save(WatchState) error
}

// WatchState is what the log watcher remembers about one registry: the
// newest signed tree head it has verified, and the fork alarm once raised.
type WatchState struct {
	RootKey string              `json:"root_key,omitempty"` // the registry root key the head verified under
	Head    *anp.SignedTreeHead `json:"head,omitempty"`
	Alarm   *ForkAlarm          `json:"alarm,omitempty"`
}

// ForkAlarm records two signed tree heads of one registry that are not
// consistent with each other.
type ForkAlarm struct {
	Remembered anp.SignedTreeHead `json:"remembered"` // the head the client had verified before
	Seen       anp.SignedTreeHead `json:"seen"`       // the head that contradicts it
	Reason     string             `json:"reason"`
	At         int64              `json:"at"` // unix ms when the fork was noticed
}

// ForkError is the error of a forked log. It is returned inside an
// *anp.Error with code forbidden; errors.Is(err, ErrLogFork) finds it.
type ForkError struct{ Alarm ForkAlarm }

func (e *ForkError) Error() string {
	return fmt.Sprintf("%s: the registry signed two inconsistent tree heads, %s and %s (%s); new deals with this registry are refused",
		ErrLogFork, DescribeHead(&e.Alarm.Remembered), DescribeHead(&e.Alarm.Seen), e.Alarm.Reason)
}

// Is reports whether target is ErrLogFork.
func (e *ForkError) Is(target error) bool { return target == ErrLogFork }

// DescribeHead names a tree head by size, root hash and timestamp.
func DescribeHead(h *anp.SignedTreeHead) string {
	return fmt.Sprintf("size %d root %s at %s", h.Size, h.RootHash, time.UnixMilli(h.Timestamp).UTC().Format(time.RFC3339Nano))
}

// memHeadStore is the default HeadStore: nothing survives the process.
type memHeadStore struct{ st WatchState }

func (m *memHeadStore) Load() (WatchState, error) { return m.st, nil }
func (m *memHeadStore) Save(st WatchState) error  { m.st = st; return nil }

// logWatch is the client's log watcher state, guarded by mu. mu is held
// across the consistency-proof fetch so that heads are checked one at a time.
type logWatch struct {
	mu     sync.Mutex
	loaded bool
	st     WatchState
}

// WatchState returns the log watcher's current state.
func (c *Client) WatchState() WatchState {
	c.watch.mu.Lock()
	defer c.watch.mu.Unlock()
	c.loadWatchLocked()
	return c.watch.st
}

// forkErr returns the fork error when an alarm is raised, else nil.
func (c *Client) forkErr() error {
	c.watch.mu.Lock()
	defer c.watch.mu.Unlock()
	c.loadWatchLocked()
	return c.forkErrLocked()
}

func (c *Client) forkErrLocked() error {
	if a := c.watch.st.Alarm; a != nil {
		return anp.Errorf(anp.CodeForbidden, "%v", &ForkError{Alarm: *a})
	}
	return nil
}

// loadWatchLocked reads the stored state once; a store that cannot be read
// is logged and the watcher starts empty.
func (c *Client) loadWatchLocked() {
	if c.watch.loaded {
		return
	}
	c.watch.loaded = true
	st, err := c.opt.HeadStore.Load()
	if err != nil {
		c.log.Error().Err(err).Msg("log watcher: cannot read the remembered tree head; starting without one")
		return
	}
	c.watch.st = st
}

// CheckLog fetches the registry's current tree head and checks it against
// the remembered one. It returns an error only for a forked log; any other
// failure (registry unreachable, bad answer) is logged, and the deal's own
// receipt is checked later in Notarize.
func (c *Client) CheckLog(ctx context.Context) error {
	_, err := c.LogHead(ctx)
	if errors.Is(err, ErrLogFork) {
		return err
	}
	if err != nil {
		c.log.Warn().Err(err).Msg("log watcher: could not check the registry's tree head")
	}
	return nil
}

// observeHead checks h (whose signature is verified) against the
// remembered head and remembers it when it is newer. A head of the same
// size with another root, a head signed later than the remembered one but
// smaller or earlier but larger, or a head whose consistency proof with
// the remembered one fails, raises the fork alarm.
func (c *Client) observeHead(ctx context.Context, h *anp.SignedTreeHead) error {
	root, err := c.pinnedRoot(ctx)
	if err != nil {
		return err
	}
	c.watch.mu.Lock()
	defer c.watch.mu.Unlock()
	c.loadWatchLocked()
	if err := c.forkErrLocked(); err != nil {
		return err
	}
	st := &c.watch.st
	if st.RootKey != "" && st.RootKey != root {
		c.log.Warn().Str("remembered_root", shortKey(st.RootKey)).Str("root", shortKey(root)).
			Msg("log watcher: the remembered tree head is of another registry root key; forgetting it")
		*st = WatchState{}
	}
	remember, err := c.judgeHeadLocked(ctx, st.Head, h)
	if err != nil || !remember {
		return err
	}
	st.RootKey, st.Head = root, h
	if err := c.opt.HeadStore.Save(*st); err != nil {
		c.log.Warn().Err(err).Msg("log watcher: cannot store the tree head")
	}
	return nil
}

// judgeHeadLocked checks head h against the remembered head old (nil: none)
// and reports whether h becomes the remembered head. A head that contradicts
// old raises the fork alarm. The caller holds c.watch.mu.
func (c *Client) judgeHeadLocked(ctx context.Context, old, h *anp.SignedTreeHead) (bool, error) {
	switch {
	case old == nil:
		if h.Size == 0 && !sameRoot(h.RootHash, rfc6962.DefaultHasher.EmptyRoot()) {
			return false, c.raiseFork(&anp.SignedTreeHead{}, h, "an empty log has another root")
		}
		return true, nil
	case h.Size == old.Size:
		if h.RootHash != old.RootHash {
			return false, c.raiseFork(old, h, "same size, different root hash")
		}
		return h.Timestamp > old.Timestamp, nil
	case anp.CheckHeadOrder(old, h) != nil:
		// The log is append-only: a head signed later is never smaller.
		return false, c.raiseFork(old, h, headOrderReason(old, h))
	case h.Size < old.Size:
		// An older head (a receipt issued before the last one seen): it
		// must be a prefix of the remembered tree. It is not remembered.
		return false, c.checkConsistency(ctx, h, old, h)
	}
	return true, c.checkConsistency(ctx, old, h, h)
}

// checkConsistency fetches and verifies the proof that newer extends older.
// A proof that does not verify raises the fork alarm with seen as the new
// head; a proof that cannot be fetched is an error but no alarm.
func (c *Client) checkConsistency(ctx context.Context, older, newer, seen *anp.SignedTreeHead) error {
	if older.Size == 0 {
		if !sameRoot(older.RootHash, rfc6962.DefaultHasher.EmptyRoot()) {
			return c.raiseFork(older, newer, "an empty log has another root")
		}
		return nil
	}
	p, err := c.Consistency(ctx, older.Size, newer.Size)
	if err != nil {
		return fmt.Errorf("registry: log watcher: consistency proof from size %d to %d: %w", older.Size, newer.Size, err)
	}
	if err := anp.VerifyConsistency(older, newer, p); err != nil {
		remembered := c.watch.st.Head
		if remembered == nil {
			remembered = older
		}
		c.log.Debug().Err(err).Msg("log watcher: consistency proof")
		return c.raiseFork(remembered, seen, fmt.Sprintf("the consistency proof from size %d to %d does not verify", older.Size, newer.Size))
	}
	return nil
}

// raiseFork records the alarm, stores it and logs it at error level.
// Callers hold c.watch.mu.
func (c *Client) raiseFork(remembered, seen *anp.SignedTreeHead, reason string) error {
	a := &ForkAlarm{Remembered: *remembered, Seen: *seen, Reason: reason, At: c.now().UnixMilli()}
	c.watch.st.Alarm = a
	if err := c.opt.HeadStore.Save(c.watch.st); err != nil {
		c.log.Error().Err(err).Msg("log watcher: cannot store the fork alarm")
	}
	err := c.forkErrLocked()
	c.log.Error().Err(err).Str("registry", c.base).Msg("registry log fork: refusing new deals with this registry")
	return err
}

// headOrderReason says how heads old and h, of different sizes, put the
// log's growth and time in opposite orders.
func headOrderReason(old, h *anp.SignedTreeHead) string {
	if h.Size < old.Size {
		return fmt.Sprintf("the log shrank from %d to %d entries", old.Size, h.Size)
	}
	return fmt.Sprintf("the log grew from %d to %d entries while its time went back from %s to %s",
		old.Size, h.Size, time.UnixMilli(old.Timestamp).UTC().Format(time.RFC3339Nano), time.UnixMilli(h.Timestamp).UTC().Format(time.RFC3339Nano))
}

func sameRoot(hexRoot string, root []byte) bool {
	b, err := hex.DecodeString(hexRoot)
	return err == nil && bytes.Equal(b, root)
}
