package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
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

// logSource names the registry whose log a command reads (monitor,
// reputation) and where its log watcher keeps the last head.
type logSource struct {
	logs     logFlags
	registry string
	key      string
	state    string
}

func (f *logSource) register(fs *flag.FlagSet, env *cliEnv) {
	f.logs.registerWith(fs, env, "warn")
	fs.StringVar(&f.registry, "registry", envOr(env, "CLINCH_REGISTRY", ""), "registry URL (env CLINCH_REGISTRY); required")
	fs.StringVar(&f.key, "registry-key", envOr(env, "CLINCH_REGISTRY_KEY", ""), "pin the registry root key, hex (env CLINCH_REGISTRY_KEY); default: the key fetched first")
	fs.StringVar(&f.state, "state", "", "file keeping the last head and any fork alarm (default: the data directory's, shared with serve for this registry; memory: keeps nothing)")
}

// monitorFlags are the flags of monitor.
type monitorFlags struct {
	logSource
	watch    string
	once     bool
	interval time.Duration
}

func (f *monitorFlags) register(fs *flag.FlagSet, env *cliEnv) {
	f.logSource.register(fs, env)
	fs.StringVar(&f.watch, "watch", "", "read every log entry and print the verified deals of this seller domain")
	fs.BoolVar(&f.once, "once", false, "check the current head once and exit")
	fs.DurationVar(&f.interval, "interval", 10*time.Second, "time between two checks")
}

func (f *monitorFlags) validate() error {
	if f.registry == "" {
		return &exitError{2, fmt.Errorf("monitor: --registry is required")}
	}
	if f.interval <= 0 {
		return &exitError{2, fmt.Errorf("monitor: --interval must be positive")}
	}
	return nil
}

// headStore is where the last head and any alarm are kept (nil: memory).
func (f *logSource) headStore(env *cliEnv, base string) registry.HeadStore {
	switch f.state {
	case "":
		return headStoreFor(dataDir(env), base)
	case "memory:":
		return nil
	}
	return &fileHeadStore{path: f.state}
}

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
			"every log entry is read, the tree is rebuilt and its root compared with each head (a mismatch is\n"+
			"exit code 4), and each deal of DOMAIN, each of its key events and each event of its deals is\n"+
			"verified and printed — a deal event replayed through its deal's lifecycle rules, so a breach,\n"+
			"dispute or delivery logged against them is printed as DOES NOT VERIFY; the verified tree and the\n"+
			"deals still in flight are kept in the state file, and the next run watching DOMAIN resumes after\n"+
			"the last entry it verified. Exit code 1\n"+
			"is an error (registry unreachable with --once).")
	var f monitorFlags
	f.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	c, closer, err := f.client(env)
	if err != nil {
		return err
	}
	defer closer.Close()
	m := &logMonitor{env: env, f: &f, c: c}
	return m.run(ctx)
}

// client returns a registry client for reading the log, with a throwaway
// identity (the log is public) and the log watcher's state, and the closer
// of its log file.
func (f *logSource) client(env *cliEnv) (*registry.Client, io.Closer, error) {
	log, closer, err := f.logs.logger(env)
	if err != nil {
		return nil, nil, err
	}
	_, id, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	base := strings.TrimRight(f.registry, "/")
	return registry.NewClient(base, id, registry.ClientOptions{RootKey: f.key, Logger: log, HeadStore: f.headStore(env, base)}), closer, nil
}

// logMonitor is one run of monitor.
type logMonitor struct {
	env    *cliEnv
	f      *monitorFlags
	c      *registry.Client
	follow *entryFollower // nil without --watch
	last   *anp.SignedTreeHead
}

// run checks the log until ctx ends, once with --once.
func (m *logMonitor) run(ctx context.Context) error {
	st := m.c.WatchState()
	if st.Alarm != nil {
		return forkExit(m.env, &registry.ForkError{Alarm: *st.Alarm})
	}
	if m.f.watch != "" {
		m.follow = newEntryFollower(m.env, m.c, m.f.watch)
	}
	if st.Head != nil {
		fmt.Fprintf(m.env.stdout, "remembered %s\n", registry.DescribeHead(st.Head))
		m.last = st.Head
	}
	for {
		if err := m.check(ctx); err != nil || m.f.once {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(m.f.interval):
		}
	}
}

// check fetches the head once, prints it when it is new and, with --watch,
// reads the entries up to it. It returns an error that ends the monitor;
// passing errors are printed and the monitor goes on (unless --once).
func (m *logMonitor) check(ctx context.Context) error {
	h, err := m.c.LogHead(ctx)
	var fe *registry.ForkError
	switch {
	case errors.As(err, &fe):
		return forkExit(m.env, fe)
	case err != nil:
		return m.passing(err)
	}
	if m.last == nil || h.Size != m.last.Size || h.RootHash != m.last.RootHash {
		from := "first head seen"
		if m.last != nil {
			from = fmt.Sprintf("consistent with size %d", m.last.Size)
		}
		fmt.Fprintf(m.env.stdout, "head %s (%s)\n", registry.DescribeHead(h), from)
		m.last = h
	}
	if m.follow == nil {
		return nil
	}
	err = m.follow.catchUp(ctx, h)
	if errors.Is(err, errEntriesMismatch) {
		fmt.Fprintf(m.env.stdout, "ENTRIES DO NOT MATCH: %v\n", err)
		return &exitError{exitEntries, fmt.Errorf("monitor: %w", err)}
	}
	return m.passing(err)
}

// passing reports an error that need not end the monitor: with --once it
// does, otherwise it is printed and the next check tries again.
func (m *logMonitor) passing(err error) error {
	switch {
	case err == nil:
		return nil
	case m.f.once:
		return fmt.Errorf("monitor: %w", err)
	}
	fmt.Fprintf(m.env.stderr, "clinch-mcp monitor: %v\n", err)
	return nil
}

// forkExit prints a fork and returns the exit error of monitor.
func forkExit(env *cliEnv, fe *registry.ForkError) error {
	a := fe.Alarm
	fmt.Fprintf(env.stdout, "FORK: the registry signed two inconsistent tree heads\n  remembered %s\n  seen       %s\n  reason     %s\n",
		registry.DescribeHead(&a.Remembered), registry.DescribeHead(&a.Seen), a.Reason)
	return &exitError{exitFork, fmt.Errorf("monitor: %w", fe)}
}
