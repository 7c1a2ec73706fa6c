package mcpserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/tools"
)

// ServeStdio serves MCP on in/out until in closes or ctx ends. Only JSON-RPC
// is written to out; the library's own error log goes to zerolog. Tool
// handlers write their notifications straight to out (see stdioOut).
func ServeStdio(ctx context.Context, s *Server, in io.Reader, out io.Writer, logger zerolog.Logger) error {
	w := &stdioOut{w: out, fixes: s.fixes}
	std := server.NewStdioServer(s.MCPServer)
	std.SetErrorLogger(log.New(logger.With().Str("component", "mcp-stdio").Logger(), "", 0))
	std.SetContextFunc(func(ctx context.Context) context.Context { return tools.WithNotifier(ctx, w) })
	err := std.Listen(ctx, in, w)
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// HTTPOptions configure the HTTP transports.
type HTTPOptions struct {
	Addr      string // listen address; loopback unless AuthToken is set
	AuthToken string // bearer token required on every request when set
	Logger    zerolog.Logger
	// Ready, when set, receives the bound address once listening.
	Ready func(addr string)
}

// CheckBind refuses a non-loopback address without a bearer token.
func CheckBind(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if isLoopbackHost(host) || token != "" {
		return nil
	}
	return fmt.Errorf("--addr %s is not a loopback address: set --auth-token (or CLINCH_AUTH_TOKEN) so only holders of the token can use the server", addr)
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP serves Streamable HTTP at /mcp until ctx ends.
func ServeHTTP(ctx context.Context, s *Server, o HTTPOptions) error {
	if err := CheckBind(o.Addr, o.AuthToken); err != nil {
		return err
	}
	h := server.NewStreamableHTTPServer(s.MCPServer, server.WithEndpointPath("/mcp"))
	mux := http.NewServeMux()
	mux.Handle("/mcp", fixCodes(h, s.fixes))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return serve(ctx, guard(mux, o), o, func(sctx context.Context) error { return h.Shutdown(sctx) })
}

// ServeSSE serves the legacy HTTP+SSE transport at /sse and /message.
func ServeSSE(ctx context.Context, s *Server, o HTTPOptions) error {
	if err := CheckBind(o.Addr, o.AuthToken); err != nil {
		return err
	}
	h := server.NewSSEServer(s.MCPServer, server.WithSSEEndpoint("/sse"), server.WithMessageEndpoint("/message"), server.WithUseFullURLForMessageEndpoint(false))
	return serve(ctx, guard(fixCodes(h, s.fixes), o), o, func(sctx context.Context) error { return h.Shutdown(sctx) })
}

func serve(ctx context.Context, h http.Handler, o HTTPOptions, shutdown func(context.Context) error) error {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * 1e9, MaxHeaderBytes: 64 << 10,
		ErrorLog: log.New(o.Logger.With().Str("component", "mcp-http").Logger(), "", 0)}
	o.Logger.Info().Str("addr", ln.Addr().String()).Bool("auth", o.AuthToken != "").Msg("MCP HTTP transport listening")
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = shutdown(sctx)
	return hs.Shutdown(sctx)
}

// guard enforces the bearer token (when set) and, on loopback binds, a Host
// header naming loopback (DNS-rebinding protection for every transport).
func guard(next http.Handler, o HTTPOptions) http.Handler {
	host, _, _ := net.SplitHostPort(o.Addr)
	loopback := isLoopbackHost(host)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopback {
			h := r.Host
			if hh, _, err := net.SplitHostPort(h); err == nil {
				h = hh
			}
			h = strings.Trim(h, "[]")
			if !isLoopbackHost(h) {
				http.Error(w, "forbidden: Host must be a loopback name (DNS-rebinding protection)", http.StatusForbidden)
				return
			}
		}
		if o.AuthToken != "" && r.URL.Path != "/healthz" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(o.AuthToken)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="clinch-mcp"`)
				http.Error(w, "unauthorized: a valid bearer token is required", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
