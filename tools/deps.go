package tools

import (
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Deps is what the tools need. Only Core is required.
type Deps struct {
	Core *buyer.Core
	// Decider drives autonomous sessions (nil: autonomous mode is off).
	Decider buyer.Decider
	// Strategy drives the turns of cascades that are not autonomous: a
	// deterministic decider (nil: buyer.Concession).
	Strategy buyer.Decider
	// RegistryRootKey pins the registry root for verify_artifact (hex).
	RegistryRootKey string
	// Guard refuses arguments holding a secret and redacts results (nil: off).
	Guard  *SecretGuard
	Logger zerolog.Logger
}

func (d *Deps) strategy() buyer.Decider {
	if d.Strategy != nil {
		return d.Strategy
	}
	return buyer.Concession{}
}
