package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
)

// monitor's exit codes for a registry caught lying.
const (
	exitFork    = 3 // two inconsistent signed tree heads
	exitEntries = 4 // log entries that do not make the signed tree head
)

// runMonitor follows a registry's transparency log like a Certificate
// Transparency monitor: it fetches the signed tree head, checks each new
// head's consistency proof against the previous one (the registry client's
// log watcher), and prints every new head. A fork ends it with exit code 3
// and a message naming both heads; the state (last head, alarm) is kept in
// the data directory, so a fork once seen is reported on every later run.
func runMonitor(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "monitor", "monitor --registry URL [--registry-key HEX] [--watch DOMAIN] [--once] [--interval 10s] [--state FILE]",
		"Each new signed tree head is printed as: head SIZE ROOT TIMESTAMP. The previous head's consistency\n"+
			"proof is verified first; a head that contradicts it (same size and another root, a smaller later\n"+
			"head, a proof that fails) is a fork: both heads are printed and the exit code is 3. With --watch,\n"+
			"every log entry is read (from entry 0 on each run), the tree is rebuilt and its root compared with\n"+
			"each head (a mismatch is exit code 4), and each deal of DOMAIN is verified and printed. Exit code 1\n"+
			"is an error (registry unreachable with --once).")
	var lf logFlags
	lf.registerWith(fs, env, "warn")
	reg := fs.String("registry", envOr(env, "CLINCH_REGISTRY", ""), "registry URL (env CLINCH_REGISTRY); required")
	key := fs.String("registry-key", envOr(env, "CLINCH_REGISTRY_KEY", ""), "pin the registry root key, hex (env CLINCH_REGISTRY_KEY); default: the key fetched first")
	watch := fs.String("watch", "", "read every log entry and print the verified deals of this seller domain")
	once := fs.Bool("once", false, "check the current head once and exit")
	interval := fs.Duration("interval", 10*time.Second, "time between two checks")
	state := fs.String("state", "", "file keeping the last head and any fork alarm (default: the data directory's, shared with serve for this registry; memory: keeps nothing)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *reg == "" {
		return &exitError{2, fmt.Errorf("monitor: --registry is required")}
	}
	if *interval <= 0 {
		return &exitError{2, fmt.Errorf("monitor: --interval must be positive")}
	}
	log, closer, err := lf.logger(env)
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer.Close()
	}
	base := strings.TrimRight(*reg, "/")
	var heads registry.HeadStore
	switch *state {
	case "":
		heads = headStoreFor(dataDir(env), base)
	case "memory:":
	default:
		heads = &fileHeadStore{path: *state}
	}
	_, id, err := ed25519.GenerateKey(rand.Reader) // the log is public: no identity is needed
	if err != nil {
		return err
	}
	c := registry.NewClient(base, id, registry.ClientOptions{RootKey: *key, Logger: log, HeadStore: heads})
	st := c.WatchState()
	if st.Alarm != nil {
		return forkExit(env, &registry.ForkError{Alarm: *st.Alarm})
	}
	var follow *entryFollower
	if *watch != "" {
		follow = newEntryFollower(env, c, *watch)
	}
	var last *anp.SignedTreeHead
	if st.Head != nil {
		fmt.Fprintf(env.stdout, "remembered %s\n", registry.DescribeHead(st.Head))
		last = st.Head
	}
	for {
		h, err := c.LogHead(ctx)
		var fe *registry.ForkError
		switch {
		case errors.As(err, &fe):
			return forkExit(env, fe)
		case err != nil && *once:
			return fmt.Errorf("monitor: %w", err)
		case err != nil:
			fmt.Fprintf(env.stderr, "clinch-mcp monitor: %v\n", err)
		case last == nil || h.Size != last.Size || h.RootHash != last.RootHash:
			from := "first head seen"
			if last != nil {
				from = fmt.Sprintf("consistent with size %d", last.Size)
			}
			fmt.Fprintf(env.stdout, "head %s (%s)\n", registry.DescribeHead(h), from)
			last = h
		}
		if err == nil && follow != nil {
			switch err := follow.catchUp(ctx, h); {
			case errors.Is(err, errEntriesMismatch):
				fmt.Fprintf(env.stdout, "ENTRIES DO NOT MATCH: %v\n", err)
				return &exitError{exitEntries, fmt.Errorf("monitor: %w", err)}
			case err != nil && *once:
				return fmt.Errorf("monitor: %w", err)
			case err != nil:
				fmt.Fprintf(env.stderr, "clinch-mcp monitor: %v\n", err)
			}
		}
		if *once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// forkExit prints a fork and returns the exit error of monitor.
func forkExit(env *cliEnv, fe *registry.ForkError) error {
	a := fe.Alarm
	fmt.Fprintf(env.stdout, "FORK: the registry signed two inconsistent tree heads\n  remembered %s\n  seen       %s\n  reason     %s\n",
		registry.DescribeHead(&a.Remembered), registry.DescribeHead(&a.Seen), a.Reason)
	return &exitError{exitFork, fmt.Errorf("monitor: %w", fe)}
}
