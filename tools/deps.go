package tools

import (
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Deps is what the tools need. Only Core is required.
type Deps struct {
	Core *buyer.Core
	// Decider drives autonomous sessions and cascades (nil: autonomous mode is off
	// and cascades use the built-in deterministic strategy).
	Decider buyer.Decider
	// AutoApproveBelow, when set, lets autonomous sessions sign deals strictly
	// below this amount without asking. Off by default.
	AutoApproveBelow *anp.Money
	// RegistryRootKey pins the registry root for verify_artifact (hex).
	RegistryRootKey string
	// Guard refuses arguments holding a secret and redacts results (nil: off).
	Guard  *SecretGuard
	Logger zerolog.Logger
}

func (d *Deps) cascadeDecider() buyer.Decider {
	if d.Decider != nil {
		return d.Decider
	}
	return buyer.Concession{}
}
