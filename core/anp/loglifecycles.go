package anp

import (
	"cmp"
	"fmt"
	"slices"
)

// Lifecycles follows the deals of a transparency log read in log order, as
// a reader who trusts no countersignature alone does (the reputation
// recomputed from the log, a seller's log monitor): Deal starts the
// lifecycle of a logged artifact, Event replays a logged deal event
// through its deal's lifecycle (Lifecycle.Replay) and refuses one the
// rules refuse. A deal whose lifecycle can no longer move is let go, so it
// holds the deals in flight; Open returns them, to go on later from the
// next entry (NewLifecycles).
type Lifecycles struct {
	rootKey string
	chain   []KeyEntry
	open    map[string]*Lifecycle // by session
}

// NewLifecycles follows the deals of a log whose registry has root key
// rootKey and key chain chain (verified by the caller), going on from the
// lifecycles open returned by Open.
func NewLifecycles(rootKey string, chain []KeyEntry, open []Lifecycle) *Lifecycles {
	x := &Lifecycles{rootKey: rootKey, chain: chain, open: make(map[string]*Lifecycle, len(open))}
	for i := range open {
		l := open[i]
		x.open[l.Session] = &l
	}
	return x
}

// SetChain replaces the registry's key chain, verified by the caller (a
// longer one after a rotation).
func (x *Lifecycles) SetChain(chain []KeyEntry) { x.chain = chain }

// Deal starts the lifecycle of artifact a, logged at index. A second deal
// of a session already followed keeps the first one's.
func (x *Lifecycles) Deal(index uint64, a *Artifact) error {
	if _, dup := x.open[a.Terms.SessionID]; dup {
		return nil
	}
	l, err := NewLifecycle(a, index, 0, "")
	if err != nil {
		return err
	}
	x.open[a.Terms.SessionID] = l
	return nil
}

// Event replays the deal event logged at index through its deal's
// lifecycle and returns the lifecycle after it. A refused event is named
// and changes nothing; so is an event of a deal not followed (none logged
// before it, or one that can no longer move).
func (x *Lifecycles) Event(index uint64, leaf *DealEventLeaf) (*Lifecycle, error) {
	session := leaf.Event.Session
	l, ok := x.open[session]
	if !ok {
		return nil, eventErr(CodeBadState, ErrDealEventOrder, "log leaf %d is an event of session %s, which has no deal before it whose lifecycle can still move", index, session)
	}
	if err := l.Replay(x.rootKey, x.chain, &DealEventEntry{LeafIndex: index, Leaf: *leaf}); err != nil {
		return nil, fmt.Errorf("log leaf %d: %w", index, err)
	}
	if l.State.Final() {
		delete(x.open, session)
	}
	return l, nil
}

// Open returns the lifecycles that can still move, in the log order of
// their deals.
func (x *Lifecycles) Open() []Lifecycle {
	out := make([]Lifecycle, 0, len(x.open))
	for _, l := range x.open {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b Lifecycle) int { return cmp.Compare(a.DealLeaf, b.DealLeaf) })
	return out
}
