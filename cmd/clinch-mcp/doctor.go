package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/sandbox"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

func runDoctor(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "doctor", "doctor [--ollama-host URL] [--ollama-model TAG] [--registry URL [--registry-key HEX]]")
	var sf sandboxFlags
	sf.register(fs, env)
	keyFile := fs.String("key-file", envOr(env, "CLINCH_KEY_FILE", ""), "identity key file to check (default: data directory)")
	reg := fs.String("registry", envOr(env, "CLINCH_REGISTRY", ""), "registry whose transparency log to check against the head remembered in the data directory (env CLINCH_REGISTRY)")
	regKey := fs.String("registry-key", envOr(env, "CLINCH_REGISTRY_KEY", ""), "pin the registry root key, hex (env CLINCH_REGISTRY_KEY)")
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
	if !doctorLog(ctx, env, *reg, *regKey) {
		problems++
	}
	if !doctorPins(env, *reg) {
		problems++
	}
	if problems > 0 {
		return &exitError{1, fmt.Errorf("%d problem(s) found", problems)}
	}
	return nil
}

// doctorLog reports the log watcher's state for registryURL: it fetches
// the current signed tree head, checks it against the head remembered in
// the data directory (the state serve keeps), and prints the latest head
// or the fork alarm. It returns false for a fork.
func doctorLog(ctx context.Context, env *cliEnv, registryURL, rootKey string) bool {
	if registryURL == "" {
		fmt.Fprintln(env.stdout, "registry log: not checked (no --registry; the embedded demo market starts a fresh log every run)")
		return true
	}
	base := strings.TrimRight(registryURL, "/")
	_, id, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		fmt.Fprintf(env.stdout, "registry log: PROBLEM: %v\n", err)
		return false
	}
	store := headStoreFor(dataDir(env), base)
	c := registry.NewClient(base, id, registry.ClientOptions{RootKey: rootKey, Logger: zerolog.Nop(), HeadStore: store})
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = c.LogHead(cctx)
	st := c.WatchState()
	switch {
	case st.Alarm != nil:
		fmt.Fprintf(env.stdout, "registry log: PROBLEM: FORK of %s: the registry signed two inconsistent tree heads\n  remembered %s\n  seen       %s\n  reason     %s\n  new deals with this registry are refused; report both heads to its operator\n  the alarm is kept in %s: remove that file only once the fork is explained\n",
			base, registry.DescribeHead(&st.Alarm.Remembered), registry.DescribeHead(&st.Alarm.Seen), st.Alarm.Reason, store.path)
		return false
	case err != nil && st.Head != nil:
		fmt.Fprintf(env.stdout, "registry log: could not check %s now (%v); last verified head %s\n", base, err, registry.DescribeHead(st.Head))
	case err != nil:
		fmt.Fprintf(env.stdout, "registry log: could not check %s: %v\n", base, err)
	default:
		fmt.Fprintf(env.stdout, "registry log: ok (%s: latest head %s, consistent with every head seen before)\n", base, registry.DescribeHead(st.Head))
	}
	return true
}
