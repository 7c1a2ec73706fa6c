package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/store/storeurl"
)

// openSellerStore opens the session store of `clinch-mcp seller`: --store,
// by default sessions.db in the state directory. "memory:" keeps sessions in
// the node's table only (nil store, nothing to close). Redis is accepted
// (versioned saves work there too) but PostgreSQL is what several
// processes should share.
func openSellerStore(ctx context.Context, raw, stateDir string, log zerolog.Logger) (*storeurl.Backend, error) {
	if raw == "memory:" {
		return &storeurl.Backend{Kind: storeurl.KindMemory, Close: func() error { return nil }}, nil
	}
	if raw == "" {
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("seller state directory: %w", err)
		}
		raw = "sqlite://" + stateDir + "/sessions.db"
	}
	b, err := storeurl.OpenWithOptions(ctx, raw, storeurl.Options{Logger: log})
	if err != nil {
		return nil, &exitError{2, fmt.Errorf("--store: %w", err)}
	}
	return b, nil
}

// drainThenShutdown makes the server's /readyz fail (a seller node or a
// registry), waits delay so that a load balancer stops sending it
// requests, then shuts the server down, giving requests in flight grace to
// finish.
func drainThenShutdown(node interface{ Drain() }, hs *http.Server, delay, grace time.Duration, log zerolog.Logger) error {
	node.Drain()
	log.Info().Dur("drain_delay", delay).Msg("draining: /readyz answers 503")
	if delay > 0 {
		time.Sleep(delay)
	}
	return shutdownGracefully(hs, grace)
}
