package seller

import (
	"errors"
	"net/http"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/httpbody"
)

// RouteReady is the node's readiness route: 200 while it takes requests
// (its store answers), 503 when it cannot or is draining (Drain).
const RouteReady = "/readyz"

// Handler returns the node's HTTP handler: the four seller routes, GET
// /healthz (liveness) and GET /readyz (readiness). Every failure is an
// anp.ErrorBody with the status of its code.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{anp.SellerHandshake, anp.SellerCounter, anp.SellerCancel, anp.SellerSignRequest} {
		mux.HandleFunc("POST "+p, n.serveRoute(p))
	}
	mux.HandleFunc("GET "+anp.RouteHealth, n.serveHealth)
	mux.HandleFunc("GET "+RouteReady, n.serveReady)
	mux.HandleFunc("/", n.serveUnknown)
	return mux
}

// serveRoute handles one buyer route.
func (n *Node) serveRoute(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		env, err := n.readRelayed(w, r, path)
		if err != nil {
			n.writeError(w, r, err)
			return
		}
		if want, ok := anp.SellerPathFor(env.Type); !ok {
			n.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "a seller does not take %s messages from buyers", env.Type))
			return
		} else if want != path {
			n.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "%s is not accepted on %s; send it to %s", env.Type, path, want))
			return
		}
		out, err := n.dispatch(r.Context(), env)
		if err != nil {
			n.log.Debug().Str("session", env.Session).Str("type", string(env.Type)).Uint64("seq", env.Seq).
				Str("code", string(anp.CodeOf(err))).Msg("envelope refused")
			n.writeError(w, r, err)
			return
		}
		if out.pending {
			writeJSON(w, http.StatusAccepted, anp.RelayResponse{Pending: true})
			return
		}
		writeJSON(w, http.StatusOK, anp.RelayResponse{Reply: out.reply})
	}
}

// readRelayed reads a request the registry relayed to path: its relay
// signature first (present, well formed and within its time window), then
// the capped body, then the signature over the body against the registry
// key chain, and only then the envelope, decoded strictly. A request
// without a valid relay signature is refused as unauthorized, its body
// never decoded.
func (n *Node) readRelayed(w http.ResponseWriter, r *http.Request, path string) (*anp.Envelope, error) {
	now := n.now()
	a, err := n.relayAuth(r.Header, now)
	if err != nil {
		n.refusedRelay(r, err)
		return nil, err
	}
	data, err := n.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if err := n.verifyRelay(r.Context(), a, path, data, now); err != nil {
		if anp.CodeOf(err) == anp.CodeUnauthorized {
			n.refusedRelay(r, err)
		}
		return nil, err
	}
	env, err := anp.DecodeEnvelope(data)
	if err != nil {
		return nil, err
	}
	// The node keeps and checks the body in its canonical form: the bytes
	// the signature and the hash cover, without any padding.
	if err := compactBody(env); err != nil {
		return nil, err
	}
	return env, nil
}

// refusedRelay counts (Stats.RelayRefused) and logs, at debug level only,
// a request refused for its relay signature: a stranger's flood must not
// fill the log.
func (n *Node) refusedRelay(r *http.Request, err error) {
	n.relayKeys.refused.Add(1)
	n.log.Debug().Str("path", r.URL.Path).Err(err).Msg("request without a valid relay signature refused")
}

// readBody reads a body of at most MaxBodyBytes.
func (n *Node) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return httpbody.ReadRequest(w, r, n.cfg.MaxBodyBytes)
}

func (n *Node) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "domain": n.domain})
}

// serveReady answers 200 when Ready, else 503; the store's error is logged,
// not shown.
func (n *Node) serveReady(w http.ResponseWriter, r *http.Request) {
	if err := n.Ready(r.Context()); err != nil {
		n.log.Warn().Err(err).Msg("not ready")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "domain": n.domain})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "domain": n.domain})
}

func (n *Node) serveUnknown(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case anp.SellerHandshake, anp.SellerCounter, anp.SellerCancel, anp.SellerSignRequest, anp.RouteHealth, RouteReady:
		w.Header().Set("Allow", allowFor(r.URL.Path))
		writeJSON(w, http.StatusMethodNotAllowed, anp.ErrorBody{Error: anp.Errorf(anp.CodeBadRequest, "method %s is not allowed on %s", r.Method, r.URL.Path)})
	default:
		n.writeError(w, r, anp.Errorf(anp.CodeNotFound, "no route %s", anp.Truncate(r.URL.Path, 100)))
	}
}

func allowFor(path string) string {
	if path == anp.RouteHealth || path == RouteReady {
		return http.MethodGet
	}
	return http.MethodPost
}

// writeError writes err as an anp.ErrorBody. Errors that are not protocol
// errors are logged and reported as internal without details.
func (n *Node) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *anp.Error
	if !errors.As(err, &e) {
		n.log.Error().Err(err).Str("path", r.URL.Path).Msg("internal error")
		e = anp.Errorf(anp.CodeInternal, "the seller could not process the request")
	}
	writeJSON(w, StatusFor(e.Code), anp.ErrorBody{Error: e})
}

// StatusFor maps a protocol error code to its HTTP status (anp's mapping).
func StatusFor(c anp.Code) int { return c.HTTPStatus() }

// writeJSON writes v as the whole JSON body, with its Content-Length. The
// values written are the node's own and always encode; should one not, the
// status goes out with an empty body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	httpbody.SetNoStore(w.Header())
	data, _ := httpbody.MarshalJSON(v)
	httpbody.Write(w, status, data)
}
