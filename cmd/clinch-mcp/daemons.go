package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/core/store/storeurl"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

func runRegistry(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "registry", "registry --addr HOST:PORT --db PATH [--key-file FILE]")
	var logs logFlags
	logs.register(fs, env)
	addr := fs.String("addr", envOr(env, "CLINCH_REGISTRY_ADDR", "127.0.0.1:8850"), "listen address (env CLINCH_REGISTRY_ADDR)")
	db := fs.String("db", envOr(env, "CLINCH_REGISTRY_DB", ""), "ledger: sqlite://PATH, a file path, or postgres://... (env CLINCH_REGISTRY_DB); default registry.db in the data directory")
	keyFile := fs.String("key-file", envOr(env, "CLINCH_REGISTRY_KEY_FILE", ""), "registry root key file; created on first start when missing (default registry.key in the data directory)")
	difficulty := fs.Int("difficulty", 18, "proof-of-work bits demanded from clients (clients refuse more than 24)")
	operator := fs.String("operator-token", envOr(env, "CLINCH_OPERATOR_TOKEN", ""), "bearer secret that authorises domain bindings (env CLINCH_OPERATOR_TOKEN)")
	open := fs.Bool("open-enrollment", false, "let anyone bind an unbound domain (development only)")
	allowPrivate := fs.Bool("allow-private-endpoints", false, "accept seller endpoints on loopback/private addresses (development only)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *operator == "" && !*open {
		return &exitError{2, fmt.Errorf("set --operator-token (or CLINCH_OPERATOR_TOKEN) so domains can be bound, or --open-enrollment for development")}
	}
	log, closer, err := logs.loggerRedacting(env, secrets.NewRedactor(*operator))
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer.Close()
	}
	if *db == "" {
		*db = filepath.Join(dataDir(env), "registry.db")
	}
	kf := *keyFile
	if kf == "" {
		kf = filepath.Join(dataDir(env), "registry.key")
	}
	root, err := loadOrCreateKey(env, kf)
	if err != nil {
		return err
	}
	st, err := storeurl.OpenWithOptions(ctx, *db, storeurl.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	defer st.Close()
	if st.Kind == storeurl.KindRedis || st.Kind == storeurl.KindMemory {
		return &exitError{2, fmt.Errorf("--db: the registry ledger needs SQLite or Postgres (durable, append-only), not %s", st.Kind)}
	}
	srv, err := registry.New(ctx, registry.Config{Root: root, Ledger: st.Ledger, Nonces: st.Nonces, Difficulty: *difficulty,
		OperatorToken: *operator, OpenEnrollment: *open, AllowPrivateEndpoints: *allowPrivate, Logger: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	log.Info().Str("addr", *addr).Str("ledger", st.Kind).Str("root_key", srv.RootKey()).Msg("registry listening")
	return serveUntilDone(ctx, srv.NewHTTPServer(*addr), log)
}

func runSeller(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "seller", "seller --config FILE")
	var logs logFlags
	logs.register(fs, env)
	cfgPath := fs.String("config", envOr(env, "CLINCH_SELLER_CONFIG", ""), "seller config JSON (see examples/seller.json)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		fs.Usage()
		return &exitError{2, fmt.Errorf("--config is required")}
	}
	fc, err := seller.LoadFileConfig(*cfgPath)
	if err != nil {
		return err
	}
	log, closer, err := logs.logger(env)
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer.Close()
	}
	key, err := secrets.LoadIdentityFile(fc.KeyFile)
	if err != nil {
		return fmt.Errorf("seller key: %w", err)
	}
	client := registry.NewClient(fc.Registry, key, registry.ClientOptions{Logger: log})
	cfg, err := fc.NodeConfig(key, client, log)
	if err != nil {
		return err
	}
	node, err := seller.NewNode(cfg)
	if err != nil {
		return err
	}
	defer node.Close()
	ln, err := net.Listen("tcp", fc.Listen)
	if err != nil {
		return err
	}
	endpoint := fc.Endpoint
	if endpoint == "" {
		endpoint = "http://" + ln.Addr().String()
	}
	hs, err := node.NewHTTPServerAt(fc.Listen, endpoint) // buyers reach the routes under the endpoint's path
	if err != nil {
		_ = ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = node.Register(rctx, endpoint, fc.OperatorToken)
	cancel()
	if err != nil {
		_ = hs.Close()
		return fmt.Errorf("register %s at %s: %w", fc.Domain, fc.Registry, err)
	}
	log.Info().Str("domain", fc.Domain).Str("endpoint", endpoint).Str("registry", fc.Registry).Msg("seller node registered and listening")
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

func serveUntilDone(ctx context.Context, hs *http.Server, log zerolog.Logger) error {
	ln, err := net.Listen("tcp", hs.Addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

func loadOrCreateKey(env *cliEnv, path string) (ed25519.PrivateKey, error) {
	k, err := secrets.LoadIdentityFile(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if k, err = secrets.GenerateIdentity(); err != nil {
		return nil, err
	}
	if err := secrets.WriteIdentityFile(path, k); err != nil {
		return nil, err
	}
	fmt.Fprintf(env.stderr, "clinch-mcp: created key %s\n", path)
	return k, nil
}
