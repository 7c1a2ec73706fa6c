package reputation

import (
	"errors"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// ErrEventRefused: a logged deal event that its deal's lifecycle rules
// refuse (anp.Lifecycle.Replay), or an event of no deal before it.
var ErrEventRefused = errors.New("the deal's lifecycle rules refuse the logged event")

// Replayer reads a transparency log's entries, in log order, into facts
// the way anyone recomputing the registry's figures reads them: as
// FactsFromLeaf does, except that a deal event gives its fact only when
// the deal's lifecycle rules accept it (anp.Lifecycle.Replay: the
// registry's countersignature by a key of its chain, the signer the event
// needs, its order after the deal and its earlier events, its deadline).
// The registry can countersign anything; a breach it logs before
// deliver_by, or a dispute, delivery or receipt no party of the deal
// signed, gives no fact here, so figures recomputed this way differ from
// the ones a registry serves after logging it.
type Replayer struct {
	rootKey string
	chain   []anp.KeyEntry
	open    map[string]*anp.Lifecycle // deals whose lifecycle can still move, by session
}

// NewReplayer reads a log whose registry has root key rootKey and key
// chain chain (verified by the caller, as monitor and verify do).
func NewReplayer(rootKey string, chain []anp.KeyEntry) *Replayer {
	return &Replayer{rootKey: rootKey, chain: chain, open: make(map[string]*anp.Lifecycle)}
}

// Facts returns the facts of log entry index, the next one in log order.
// A refused event returns an error wrapping ErrEventRefused and leaves its
// deal's lifecycle as it was.
func (r *Replayer) Facts(index uint64, data []byte) ([]Fact, error) {
	l, err := parseLeaf(index, data)
	if err != nil {
		return nil, err
	}
	switch {
	case l.DealEvent != nil:
		if err := r.replay(index, l.DealEvent); err != nil {
			return nil, fmt.Errorf("reputation: leaf %d: %w: %w", index, ErrEventRefused, err)
		}
	case l.Artifact != nil:
		facts, err := factsOf(index, &l, true)
		if err != nil {
			return nil, err
		}
		if err := r.start(index, l.Artifact); err != nil {
			return nil, fmt.Errorf("reputation: leaf %d: %w: %v", index, ErrLeafFormat, err)
		}
		return facts, nil
	}
	return factsOf(index, &l, false) // the event's signatures were checked by its replay
}

// start opens the lifecycle of the deal logged at index; a second deal of
// a session keeps the first one's (the book refuses the second).
func (r *Replayer) start(index uint64, a *anp.Artifact) error {
	if _, dup := r.open[a.Terms.SessionID]; dup {
		return nil
	}
	lc, err := anp.NewLifecycle(a, index, 0, "")
	if err != nil {
		return err
	}
	r.open[a.Terms.SessionID] = lc
	return nil
}

// replay applies a logged event to its deal's lifecycle; a lifecycle that
// can no longer move is let go.
func (r *Replayer) replay(index uint64, l *anp.DealEventLeaf) error {
	session := l.Event.Session
	lc, ok := r.open[session]
	if !ok {
		return fmt.Errorf("session %s has no deal before it whose lifecycle can still move", session)
	}
	if err := lc.Replay(r.rootKey, r.chain, &anp.DealEventEntry{LeafIndex: index, Leaf: *l}); err != nil {
		return err
	}
	if lc.State.Final() {
		delete(r.open, session)
	}
	return nil
}
