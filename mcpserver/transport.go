package mcpserver

import (
	"context"
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

// DefaultMaxBodyBytes is the request body cap of the HTTP transports when
// HTTPOptions.MaxBodyBytes is 0: far above any JSON-RPC message the tools
// take, far below what would strain memory.
const DefaultMaxBodyBytes = 4 << 20

// HTTPOptions configure the HTTP transports.
type HTTPOptions struct {
	Addr      string // listen address; loopback unless AuthToken is set
	AuthToken string // bearer token required on every request when set
	// Participants maps each decision-room participant's name to their own
	// bearer token. A request carrying one is admitted as that participant
	// (tools.ParticipantFrom); the name comes only from the token.
	Participants map[string]string
	// AllowedOrigins are browser origins (scheme://host[:port], see
	// ParseOrigins) accepted in an Origin header besides the server's own
	// and, on a loopback bind, loopback origins. Any other Origin gets 403.
	AllowedOrigins []string
	// MaxBodyBytes caps a request body (413 beyond it); 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	Logger       zerolog.Logger
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

// isLoopbackHost reports whether host (no port, brackets allowed) names a
// loopback interface. Host names are case-insensitive (RFC 3986 §3.2.2), so
// LOCALHOST is localhost.
func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
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
	h := server.NewStreamableHTTPServer(s.MCPServer, server.WithEndpointPath("/mcp"), server.WithHTTPContextFunc(participantContext))
	mux := http.NewServeMux()
	mux.Handle("/mcp", fixCodes(h, s.fixes))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	g, err := newGuard(o)
	if err != nil {
		return err
	}
	return serve(ctx, g.wrap(mux), o, func(sctx context.Context) error { return h.Shutdown(sctx) })
}

// ServeSSE serves the legacy HTTP+SSE transport at /sse and /message.
func ServeSSE(ctx context.Context, s *Server, o HTTPOptions) error {
	if err := CheckBind(o.Addr, o.AuthToken); err != nil {
		return err
	}
	h := server.NewSSEServer(s.MCPServer, server.WithSSEEndpoint("/sse"), server.WithMessageEndpoint("/message"), server.WithUseFullURLForMessageEndpoint(false),
		server.WithSSEContextFunc(participantContext))
	g, err := newGuard(o)
	if err != nil {
		return err
	}
	return serve(ctx, g.wrap(fixCodes(h, s.fixes)), o, func(sctx context.Context) error { return h.Shutdown(sctx) })
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
