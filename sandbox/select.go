package sandbox

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Sandbox modes accepted by Select.
const (
	ModeOllama   = "ollama"   // the Ollama decider; fail when Ollama or the model is missing
	ModeStrategy = "strategy" // the deterministic concession decider (cfg.Fallback, default concession.Default())
	ModeAuto     = "auto"     // Ollama when it answers and has the model, else the strategy
	ModeOff      = "off"      // no autonomous decider
)

// Select returns the decider for a sandbox mode and a description of what
// runs: "ollama:qwen2.5:1.5b", "strategy:adaptive", "strategy:adaptive
// (ollama unavailable: …)" or "off". Mode "off" returns a nil decider. When
// cfg.Logger is unset the decider logs to log.
func Select(ctx context.Context, mode string, cfg OllamaConfig, log zerolog.Logger) (buyer.Decider, string, error) {
	if reflect.ValueOf(cfg.Logger).IsZero() {
		cfg.Logger = log
	}
	m := strings.ToLower(strings.TrimSpace(mode))
	switch m {
	case ModeOff:
		log.Info().Msg("sandbox off: no autonomous decider")
		return nil, ModeOff, nil
	case ModeStrategy:
		cfg.applyDefaults()
		desc := buyer.DeciderName(cfg.Fallback)
		log.Info().Str("decider", desc).Msg("sandbox: deterministic strategy selected")
		return cfg.Fallback, desc, nil
	case ModeOllama, ModeAuto:
	default:
		return nil, "", fmt.Errorf("sandbox: unknown mode %q (want ollama, strategy, auto or off)", mode)
	}
	d, err := NewOllamaDecider(cfg)
	if err != nil {
		return nil, "", err
	}
	a, err := d.Check(ctx)
	if err == nil {
		log.Info().Str("decider", d.Name()).Str("host", a.Host).Str("version", a.Version).Msg("sandbox: ollama decider selected")
		return d, d.Name(), nil
	}
	if m == ModeOllama {
		return nil, "", fmt.Errorf("sandbox mode ollama: %w", err)
	}
	desc := fmt.Sprintf("%s (ollama unavailable: %v)", buyer.DeciderName(d.cfg.Fallback), strings.TrimPrefix(err.Error(), "sandbox: "))
	log.Info().Str("decider", buyer.DeciderName(d.cfg.Fallback)).Str("reason", err.Error()).Str("hint", a.Hint).Msg("sandbox auto: ollama unavailable, using the strategy")
	return d.cfg.Fallback, desc, nil
}
