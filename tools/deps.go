package tools

import (
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
	// (nil: concession.Default()).
	Deterministic buyer.Decider
	// RegistryRootKey pins the registry root for verify_artifact (hex).
	RegistryRootKey string
	// Secrets refuses arguments holding a secret and redacts results (nil: off).
	Secrets *SecretFilter
	Logger  zerolog.Logger
}

func (d *Deps) deterministic() buyer.Decider {
	if d.Deterministic != nil {
		return d.Deterministic
	}
	return concession.Default()
}
