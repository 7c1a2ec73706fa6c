package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/sandbox"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

func runDoctor(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "doctor", "doctor [--ollama-host URL] [--ollama-model TAG]")
	var sf sandboxFlags
	sf.register(fs, env)
	keyFile := fs.String("key-file", envOr(env, "CLINCH_KEY_FILE", ""), "identity key file to check (default: data directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	problems := 0
	path := *keyFile
	if path == "" {
		path = filepath.Join(dataDir(env), "identity.key")
	}
	if k, err := secrets.LoadIdentityFile(path); err == nil {
		fmt.Fprintf(env.stdout, "identity: ok (%s, public key %s)\n", path, secrets.Fingerprint(k.Public().(ed25519.PublicKey)))
	} else if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.stdout, "identity: none yet at %s (created on first start, or run: clinch-mcp keygen)\n", path)
	} else {
		problems++
		fmt.Fprintf(env.stdout, "identity: PROBLEM: %v\n", err)
	}
	d, err := sandbox.NewOllamaDecider(sandbox.OllamaConfig{Host: sf.host, Model: sf.model, Logger: zerolog.Nop()})
	if err != nil {
		return &exitError{2, err}
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	a, err := d.Check(cctx)
	switch {
	case err == nil:
		fmt.Fprintf(env.stdout, "ollama: ok (%s, version %s, model %s present, context %d)\nsandbox: autonomous sessions use %s\n", a.Host, a.Version, a.Model, a.ContextLength, d.Name())
	case !a.Reachable:
		fmt.Fprintf(env.stdout, "ollama: not reachable at %s: %v\n  the sandbox falls back to the deterministic strategy.\n  to use the local model: install Ollama, start it (ollama serve), then run: ollama pull %s\n", a.Host, err, sf.model)
	default:
		fmt.Fprintf(env.stdout, "ollama: reachable at %s (version %s) but model %s is missing\n  run: %s\n  until then the sandbox uses the deterministic strategy.\n", a.Host, a.Version, sf.model, a.Hint)
	}
	if problems > 0 {
		return &exitError{1, fmt.Errorf("%d problem(s) found", problems)}
	}
	return nil
}
