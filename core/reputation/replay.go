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
// the deal's lifecycle rules accept it (anp.Lifecycles: the registry's
// countersignature by a key of its chain, the signer the event needs, its
// order after the deal and its earlier events, its deadline). The registry
// can countersign anything; a breach it logs before deliver_by, or a
// dispute, delivery or receipt no party of the deal signed, gives no fact
// here, so figures recomputed this way differ from the ones a registry
// serves after logging it.
type Replayer struct {
	deals *anp.Lifecycles
}

// NewReplayer reads a log whose registry has root key rootKey and key
// chain chain (verified by the caller, as monitor and verify do).
func NewReplayer(rootKey string, chain []anp.KeyEntry) *Replayer {
	return &Replayer{deals: anp.NewLifecycles(rootKey, chain, nil)}
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
		if _, err := r.deals.Event(index, l.DealEvent); err != nil {
			return nil, fmt.Errorf("reputation: leaf %d: %w: %w", index, ErrEventRefused, err)
		}
	case l.Artifact != nil:
		facts, err := factsOf(index, &l, true)
		if err != nil {
			return nil, err
		}
		if err := r.deals.Deal(index, l.Artifact); err != nil {
			return nil, fmt.Errorf("reputation: leaf %d: %w: %v", index, ErrLeafFormat, err)
		}
		return facts, nil
	}
	return factsOf(index, &l, false) // the event's signatures were checked by its replay
}
