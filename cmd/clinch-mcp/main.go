// Command clinch-mcp lets an AI assistant negotiate and close purchases with
// seller agents over the Agent Negotiation Protocol. With no arguments it
// serves MCP over stdio against an embedded demo market.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv carries the process's streams so commands are testable.
type cliEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func commands() []command {
	return []command{
		{"serve", "serve MCP (stdio, Streamable HTTP or SSE) — the default", runServe},
		{"registry", "run a registry daemon (auth, discovery, relay, notary)", runRegistry},
		{"seller", "run a seller node from a config file", runSeller},
		{"fulfil", "tell a running seller node that a signed deal was delivered", runFulfil},
		{"arbiter", "the registry operator's disputes: list, show, resolve", runArbiter},
		{"discover", "list sellers in the market", runDiscover},
		{"negotiate", "negotiate with one seller from the terminal", runNegotiate},
		{"verify", "verify a deal artifact offline", runVerify},
		{"vectors", "run the protocol test vectors in DIR against the reference verifier", runVectors},
		{"monitor", "follow a registry's transparency log; exit 3 on a fork", runMonitor},
		{"reputation", "recompute the registry's reputation scores from its log and compare", runReputation},
		{"keygen", "create an identity key file", runKeygen},
		{"doctor", "check the identity key and the local Ollama model", runDoctor},
		{"bench", "run the negotiation-quality benchmark (bench negotiate)", runBench},
	}
}

func main() {
	zerolog.TimeFieldFormat = time.RFC3339Nano // process-wide: set once, before any logger exists
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	err := run(ctx, env, os.Args[1:])
	stop()
	if err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if !errors.Is(err, errHelpShown) {
			fmt.Fprintln(os.Stderr, "clinch-mcp:", err)
		} else {
			code = 0
		}
		os.Exit(code)
	}
}

var errHelpShown = errors.New("help shown")

func run(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 {
		return runServe(ctx, env, nil)
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(env.stderr)
		return errHelpShown
	case "version", "--version":
		fmt.Fprintln(env.stdout, "clinch-mcp", version)
		return nil
	}
	if args[0][0] == '-' {
		return runServe(ctx, env, args)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	usage(env.stderr)
	return &exitError{2, fmt.Errorf("unknown command %q", args[0])}
}

const version = "0.1.0"

func usage(w io.Writer) {
	fmt.Fprintf(w, "clinch-mcp %s — negotiate and close purchases with seller agents\n\nUsage: clinch-mcp [command] [flags]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'clinch-mcp COMMAND --help' for a command's flags.\n")
}
