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
// newest signed tree head it has verified, the fork alarm once raised, and
// how far a log monitor has verified the entries.
type WatchState struct {
	RootKey string              `json:"root_key,omitempty"` // the registry root key the head verified under
	Head    *anp.SignedTreeHead `json:"head,omitempty"`
	Alarm   *ForkAlarm          `json:"alarm,omitempty"`
	Entries *VerifiedEntries    `json:"entries,omitempty"`
}

// VerifiedEntries is how far a log monitor has read and checked the log's
// entries: the compact range of entries 0 … Head.Size-1 (the RFC 9162
// subtree hashes, hex, largest first), whose root is Head's, and the seller
// domain whose deals it printed on the way. A monitor resumes from it
// instead of reading the log from entry 0.
type VerifiedEntries struct {
	Domain string             `json:"domain"`
	Head   anp.SignedTreeHead `json:"head"`
	Range  []string           `json:"range"`
	// Deals are the lifecycles of Domain's deals that can still move, as
	// the entries up to Head leave them (anp.Lifecycles.Open); DealsKept
	// tells an empty list from a state kept before deals were followed.
	Deals     []anp.Lifecycle `json:"deals,omitempty"`
	DealsKept bool            `json:"deals_kept,omitempty"`
}

// SaveVerifiedEntries remembers v in the watch state and stores it.
func (c *Client) SaveVerifiedEntries(v VerifiedEntries) error {
	c.watch.mu.Lock()
	defer c.watch.mu.Unlock()
	c.loadWatchLocked()
	c.watch.st.Entries = &v
	if err := c.opt.HeadStore.Save(c.watch.st); err != nil {
		return fmt.Errorf("registry: store the verified log entries: %w", err)
	}
	return nil
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

// logWatch is the client's log watcher state, guarded by mu. mu is never
// held across network I/O: a head is judged against a snapshot of the
// remembered one, its consistency proof fetched without the lock, and the
// snapshot checked again under the lock before the head is remembered.
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

// maxObserveAttempts bounds how often a head is judged again because the
// remembered head changed while its consistency proof was fetched.
const maxObserveAttempts = 4

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
	for attempt := 1; ; attempt++ {
		old, err := c.rememberedHead(root)
		if err != nil {
			return err
		}
		chk := judgeHead(old, h)
		var proof []string
		if chk.fork == "" && chk.older != nil {
			if proof, err = c.Consistency(ctx, chk.older.Size, chk.newer.Size); err != nil {
				return fmt.Errorf("registry: log watcher: consistency proof from size %d to %d: %w", chk.older.Size, chk.newer.Size, err)
			}
		}
		done, err := c.applyHead(root, old, h, chk, proof)
		if done || err != nil {
			return err
		}
		if attempt == maxObserveAttempts {
			return fmt.Errorf("registry: log watcher: the remembered tree head changed %d times while head %s was checked", attempt, DescribeHead(h))
		}
	}
}

// rememberedHead returns a copy of the remembered head (nil: none), after
// forgetting one remembered under another root key than root. A raised
// alarm is the error.
func (c *Client) rememberedHead(root string) (*anp.SignedTreeHead, error) {
	c.watch.mu.Lock()
	defer c.watch.mu.Unlock()
	c.loadWatchLocked()
	if err := c.forkErrLocked(); err != nil {
		return nil, err
	}
	st := &c.watch.st
	if st.RootKey != "" && st.RootKey != root {
		c.log.Warn().Str("remembered_root", shortKey(st.RootKey)).Str("root", shortKey(root)).
			Msg("log watcher: the remembered tree head is of another registry root key; forgetting it")
		*st = WatchState{}
	}
	if st.Head == nil {
		return nil, nil
	}
	old := *st.Head
	return &old, nil
}

// headCheck is what a head means against the remembered one.
type headCheck struct {
	remember     bool                // the head becomes the remembered one
	fork         string              // not "": the two heads contradict each other, for this reason
	older, newer *anp.SignedTreeHead // not nil: a consistency proof from older to newer must verify
}

// judgeHead decides, without I/O, what head h means against the
// remembered head old (nil: none).
func judgeHead(old, h *anp.SignedTreeHead) headCheck {
	switch {
	case old == nil:
		if h.Size == 0 && !sameRoot(h.RootHash, rfc6962.DefaultHasher.EmptyRoot()) {
			return headCheck{fork: "an empty log has another root"}
		}
		return headCheck{remember: true}
	case h.Size == old.Size:
		if h.RootHash != old.RootHash {
			return headCheck{fork: "same size, different root hash"}
		}
		return headCheck{remember: h.Timestamp > old.Timestamp}
	case anp.CheckHeadOrder(old, h) != nil:
		return headCheck{fork: headOrderReason(old, h)}
	case h.Size < old.Size:
		// An older head (a receipt issued before the last one seen): it
		// must be a prefix of the remembered tree. It is not remembered.
		return consistencyCheck(h, old, false)
	}
	return consistencyCheck(old, h, true)
}

// consistencyCheck asks for the proof that newer extends older, unless
// older is the empty tree, which every tree extends when its root is right.
func consistencyCheck(older, newer *anp.SignedTreeHead, remember bool) headCheck {
	if older.Size > 0 {
		return headCheck{remember: remember, older: older, newer: newer}
	}
	if !sameRoot(older.RootHash, rfc6962.DefaultHasher.EmptyRoot()) {
		return headCheck{fork: "an empty log has another root"}
	}
	return headCheck{remember: remember}
}

// applyHead acts on chk, the judgement of h against old, with the fetched
// consistency proof: it raises the fork alarm or remembers h. It reports
// false, doing nothing, when the remembered head is no longer old: then h
// must be judged again.
func (c *Client) applyHead(root string, old, h *anp.SignedTreeHead, chk headCheck, proof []string) (bool, error) {
	c.watch.mu.Lock()
	defer c.watch.mu.Unlock()
	if err := c.forkErrLocked(); err != nil {
		return true, err
	}
	st := &c.watch.st
	if !sameHead(st.Head, old) || (st.RootKey != "" && st.RootKey != root) {
		return false, nil
	}
	remembered := old
	if remembered == nil {
		remembered = &anp.SignedTreeHead{}
	}
	if chk.fork != "" {
		return true, c.raiseFork(remembered, h, chk.fork)
	}
	if chk.older != nil {
		if err := anp.VerifyConsistency(chk.older, chk.newer, proof); err != nil {
			c.log.Debug().Err(err).Msg("log watcher: consistency proof")
			return true, c.raiseFork(remembered, h, fmt.Sprintf("the consistency proof from size %d to %d does not verify", chk.older.Size, chk.newer.Size))
		}
	}
	if !chk.remember {
		return true, nil
	}
	newHead := *h
	st.RootKey, st.Head = root, &newHead
	if err := c.opt.HeadStore.Save(*st); err != nil {
		c.log.Warn().Err(err).Msg("log watcher: cannot store the tree head")
	}
	return true, nil
}

// sameHead reports whether a and b are both absent or equal.
func sameHead(a, b *anp.SignedTreeHead) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
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
