package tools

import (
	"sync"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
)

// Deps is what the tools need. Only Core is required.
type Deps struct {
	Core *buyer.Core
	// Decider drives autonomous sessions (nil: autonomous mode is off).
	Decider buyer.Decider
	// Deterministic plays the turns of cascades that are not autonomous
	// and, when it can advise (concession.Adviser), suggests the next move
	// in every session snapshot (nil: one concession.Default() for the
	// server's life).
	Deterministic buyer.Decider
	// RegistryRootKey pins the registry root for verify_artifact (hex).
	RegistryRootKey string
	// Secrets refuses arguments holding a secret and redacts results (nil: off).
	Secrets *SecretFilter
	Logger  zerolog.Logger

	once     sync.Once
	strategy *concession.Adaptive // the default strategy, made once when first needed
}

// defaultStrategy is the server's default strategy, one seed for its life.
func (d *Deps) defaultStrategy() *concession.Adaptive {
	d.once.Do(func() { d.strategy = concession.Default() })
	return d.strategy
}

func (d *Deps) deterministic() buyer.Decider {
	if d.Deterministic != nil {
		return d.Deterministic
	}
	return d.defaultStrategy()
}

// Advise is the deterministic strategy's suggestion for s's next move, or
// nil when s has no move to make. A Deterministic decider that cannot
// advise leaves it to the default strategy.
func (d *Deps) Advise(s buyer.Session) *concession.Advice {
	a, ok := d.deterministic().(concession.Adviser)
	if !ok {
		a = d.defaultStrategy()
	}
	adv, ok := a.Advise(s)
	if !ok {
		return nil
	}
	return &adv
}

// Snapshot is the public view of s (see the function Snapshot) with the
// strategy's suggested next move.
func (d *Deps) Snapshot(s buyer.Session) SessionSnapshot {
	out := Snapshot(s)
	out.Suggestion = suggestionOf(d.Advise(s))
	return out
}
