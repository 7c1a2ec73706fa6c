package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/sandbox"
)

// sandboxFlags choose the autonomous decider.
type sandboxFlags struct {
	mode  string
	host  string
	model string
}

func (s *sandboxFlags) register(fs *flag.FlagSet, env *cliEnv) {
	fs.StringVar(&s.mode, "sandbox", envOr(env, "CLINCH_SANDBOX", sandbox.ModeAuto), "autonomous decider: auto (Ollama when it answers and has the model, else strategy), ollama, strategy or off (env CLINCH_SANDBOX)")
	fs.StringVar(&s.host, "ollama-host", envOr(env, "OLLAMA_HOST", sandbox.DefaultHost), "Ollama server (env OLLAMA_HOST)")
	fs.StringVar(&s.model, "ollama-model", envOr(env, "CLINCH_OLLAMA_MODEL", sandbox.DefaultModel), "Ollama model tag (env CLINCH_OLLAMA_MODEL)")
}

func (s *sandboxFlags) config(log zerolog.Logger) sandbox.OllamaConfig {
	return sandbox.OllamaConfig{Host: s.host, Model: s.model, Logger: log}
}

// decider selects the decider and says which one runs.
func (s *sandboxFlags) decider(ctx context.Context, log zerolog.Logger) (buyer.Decider, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d, desc, err := sandbox.Select(cctx, s.mode, s.config(log), log)
	if err != nil {
		return nil, "", &exitError{2, fmt.Errorf("--sandbox %s: %w", s.mode, err)}
	}
	return d, desc, nil
}
