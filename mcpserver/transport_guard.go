package mcpserver

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/tools"
)

// guard stands in front of both HTTP transports. In order, it refuses:
// on a loopback bind or connection, a Host that is not a loopback name (DNS
// rebinding, 403); an Origin that is not the server's own, a loopback origin
// on a loopback bind or an allowed one (403, as MCP 2025-11-25 requires); a
// missing or wrong bearer token when one is set (401); a body over the cap
// (413). Every refusal carries a JSON-RPC error without an id. Nothing
// reaches the MCP handler before all four checks pass, and the body is read
// only after the first three.
type guard struct {
	loopback bool      // bound to a loopback address
	token    *[32]byte // SHA-256 of the bearer token; nil when none is set
	// participants are the SHA-256 digests of the decision-room
	// participants' own bearer tokens, with their names.
	participants []participantToken
	origins      map[string]bool // normalised allowed origins (originKey)
	maxBody      int64
	log          zerolog.Logger
}

func newGuard(o HTTPOptions) (*guard, error) {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", o.Addr, err)
	}
	allowed, err := ParseOrigins(o.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	g := &guard{loopback: isLoopbackHost(host), origins: map[string]bool{}, maxBody: o.MaxBodyBytes, log: o.Logger}
	for _, a := range allowed {
		g.origins[a] = true
	}
	switch {
	case g.maxBody == 0:
		g.maxBody = DefaultMaxBodyBytes
	case g.maxBody < 0:
		return nil, fmt.Errorf("the request body cap %d must be positive", g.maxBody)
	}
	if o.AuthToken != "" {
		sum := sha256.Sum256([]byte(o.AuthToken))
		g.token = &sum
	}
	ps, err := participantTokens(o.Participants, o.AuthToken)
	if err != nil {
		return nil, err
	}
	g.participants = ps
	return g, nil
}

// refusal is an HTTP error status with the message of its JSON-RPC error.
type refusal struct {
	status int
	msg    string
}

func (g *guard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, ref := g.participant(r)
		if ref == nil {
			ref = g.admitAs(r, who != "")
		}
		if ref != nil {
			if ref.status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="clinch-mcp"`)
			}
			writeRefusal(w, ref)
			return
		}
		if !g.readBody(w, r) {
			return
		}
		if who != "" {
			r = r.WithContext(tools.WithParticipant(r.Context(), who))
		}
		next.ServeHTTP(w, r)
	})
}

// admit runs the Host, Origin and token checks.
func (g *guard) admit(r *http.Request) *refusal { return g.admitAs(r, false) }

// admitAs is admit for a request that, when participant is set, carries a
// participant's token, which stands for the server's token.
func (g *guard) admitAs(r *http.Request, participant bool) *refusal {
	if g.loopback || localAddrIsLoopback(r) {
		if !isLoopbackHost(hostOnly(r.Host)) {
			g.log.Warn().Str("host", r.Host).Str("remote", r.RemoteAddr).Msg("MCP HTTP request refused: Host is not a loopback name (DNS rebinding?)")
			return &refusal{http.StatusForbidden, "forbidden: Host must be a loopback name (DNS-rebinding protection)"}
		}
	}
	if origin := r.Header.Values("Origin"); len(origin) > 0 && !g.originAllowed(origin, r.Host) {
		g.log.Warn().Strs("origin", origin).Str("remote", r.RemoteAddr).Msg("MCP HTTP request refused: foreign Origin")
		return &refusal{http.StatusForbidden, "forbidden: Origin is not allowed (pass --allowed-origin to allow a browser origin)"}
	}
	if g.token != nil && !participant && r.URL.Path != "/healthz" && !g.tokenValid(r.Header.Get("Authorization")) {
		return &refusal{http.StatusUnauthorized, "unauthorized: a valid bearer token is required"}
	}
	return nil
}

// tokenValid checks an Authorization header of the Bearer scheme (the
// scheme name case-insensitive, RFC 7235 §2.1) against the token, comparing
// SHA-256 digests in constant time so that neither the token's content nor
// its length shows in the timing.
func (g *guard) tokenValid(header string) bool {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimLeft(cred, " ")))
	return subtle.ConstantTimeCompare(got[:], g.token[:]) == 1
}

// originAllowed: exactly one Origin header, which is the server's own (its
// host and port are the request's Host), a loopback origin on a loopback
// bind, or one of the allowed origins. "null" and anything malformed are
// foreign.
func (g *guard) originAllowed(values []string, requestHost string) bool {
	if len(values) != 1 {
		return false
	}
	u, key, err := parseOrigin(values[0])
	if err != nil {
		return false
	}
	if g.origins[key] {
		return true
	}
	if g.loopback && isLoopbackHost(u.Hostname()) {
		return true
	}
	return strings.EqualFold(hostPortKey(u.Scheme, requestHost), hostPortKey(u.Scheme, u.Host))
}

// readBody reads the whole body up to the cap, so that the MCP handler
// never sees more: a declared Content-Length over the cap is refused before
// a byte is read, a chunked body as soon as it passes the cap. The
// connection is then closed, not drained.
func (g *guard) readBody(w http.ResponseWriter, r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	tooLarge := &refusal{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", g.maxBody)}
	if r.ContentLength > g.maxBody {
		w.Header().Set("Connection", "close")
		writeRefusal(w, tooLarge)
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeRefusal(w, tooLarge)
		} else {
			writeRefusal(w, &refusal{http.StatusBadRequest, "reading the request body failed"})
		}
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// writeRefusal writes a JSON-RPC error response without an id (the request
// was not read as JSON-RPC): code -32600, invalid request.
func writeRefusal(w http.ResponseWriter, ref *refusal) {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": nil,
		"error": map[string]any{"code": -32600, "message": ref.msg}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(ref.status)
	_, _ = w.Write(body)
}

// localAddrIsLoopback reports whether the request came in on a loopback
// interface (a server bound to every interface is also reachable there).
func localAddrIsLoopback(r *http.Request) bool {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || a == nil {
		return false
	}
	return isLoopbackHost(hostOnly(a.String()))
}

// hostOnly strips the port of a host[:port].
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// hostPortKey is host[:port] lower-cased with the scheme's default port
// made explicit, so that Host "example.com" matches https://example.com.
func hostPortKey(scheme, hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), ""
	}
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(net.JoinHostPort(host, port))
}

// parseOrigin parses an origin (RFC 6454: scheme://host[:port], http or
// https, nothing else) and returns its normalised key.
func parseOrigin(s string) (*url.URL, string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, "", fmt.Errorf("origin %q does not parse", s)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "", fmt.Errorf("origin %q: the scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return nil, "", fmt.Errorf("origin %q has no host", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || (u.Path != "" && u.Path != "/"):
		return nil, "", fmt.Errorf("origin %q must be scheme://host[:port] without a path, query or credentials", s)
	}
	return u, u.Scheme + "://" + hostPortKey(u.Scheme, u.Host), nil
}

// ParseOrigins checks a list of origins for HTTPOptions.AllowedOrigins and
// returns them normalised (lower case, default port explicit). Each must be
// scheme://host[:port] with scheme http or https.
func ParseOrigins(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, s := range list {
		_, key, err := parseOrigin(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("allowed origin: %w", err)
		}
		out = append(out, key)
	}
	return out, nil
}
