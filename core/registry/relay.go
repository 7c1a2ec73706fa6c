package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/defaults"
	"github.com/clinch-protocol/clinch-mcp/core/internal/httpbody"
)

// newSellerClient returns the HTTP client that relays to sellers: no
// redirects, no proxy, and (unless private endpoints are allowed) a dialer
// that refuses guarded addresses whatever a name resolved to.
func newSellerClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardedDialControl
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    defaults.IdleConnsPerHost,
		IdleConnTimeout:        defaults.IdleConnTimeout, // below a seller's idle timeout (a node's is 60 s), so a kept connection is not closed under a request
		TLSHandshakeTimeout:    5 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// handleRelay forwards a buyer envelope to the seller and witnesses both the
// envelope and the seller's reply.
func (s *Server) handleRelay(w http.ResponseWriter, r *http.Request) {
	buyer, err := s.authenticate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	domain, err := pathDomain(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	env, err := s.readEnvelope(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.relay(r.Context(), buyer, domain, env)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if resp.Pending {
		status = http.StatusAccepted
	}
	s.writeJSON(w, status, resp)
}

// relayHeaderKey is anp.RelayHeader as Header.Set writes it.
var relayHeaderKey = http.CanonicalHeaderKey(anp.RelayHeader)

// forwardAgent is the User-Agent of a forward to a seller.
var forwardAgent = []string{"clinch-registry/1"}

// setForwardHeaders sets the headers of a forward of env to its seller:
// the relay signature, the envelope hash as Idempotency-Key (a seller
// answers a repeated envelope with its earlier reply, so the request is
// idempotent: the key lets the HTTP client send it again when a kept-alive
// connection turns out to have been closed by the seller), JSON, and the
// registry's User-Agent. The two values of this forward share one array.
func setForwardHeaders(h http.Header, relaySig string, env *anp.Envelope) {
	vals := append(make([]string, 0, 2), relaySig)
	h[relayHeaderKey] = vals[0:1:1]
	if hash, err := env.Hash(); err == nil {
		vals = append(vals, hash)
		h["Idempotency-Key"] = vals[1:2:2]
	}
	httpbody.SetJSON(h, true)
	h["User-Agent"] = forwardAgent
}

// relayListing returns the listing envelopes for domain are relayed to:
// none for a revoked key, which opens and continues no session.
func (s *Server) relayListing(ctx context.Context, domain string) (anp.Listing, error) {
	if err := s.domainOnMiss(ctx, domain); err != nil {
		return anp.Listing{}, err
	}
	if err := s.refuseRevoked(domain); err != nil {
		return anp.Listing{}, err
	}
	listing, ok := s.directory.listing(domain)
	if !ok {
		return anp.Listing{}, anp.Errorf(anp.CodeNotFound, "no seller listed as %s", domain)
	}
	return listing, nil
}

// relay runs the witness checks, forwards env and witnesses the reply.
func (s *Server) relay(ctx context.Context, buyer, domain string, env *anp.Envelope) (*anp.RelayResponse, error) {
	if !anp.BuyerMayAsk(env.Type) {
		return nil, anp.Errorf(anp.CodeForbidden, "a buyer may not send %s", env.Type)
	}
	if err := compactBody(env); err != nil {
		return nil, err
	}
	listing, err := s.relayListing(ctx, domain)
	if err != nil {
		return nil, err
	}
	endpoint := listing.Record.Record.Endpoint
	unlock, err := s.lockSession(ctx, env.Session)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ws, err := s.loadSession(ctx, env.Session)
	if err != nil {
		return nil, err
	}
	if ws != nil && ws.Buyer == buyer && ws.Domain == domain {
		if err := s.refuseRevokedSeller(ws); err != nil {
			return nil, err
		}
		if resp, ok, err := s.resend(ctx, ws, env, endpoint); ok || err != nil {
			return resp, err
		}
	}
	if err := s.admitSession(ctx, buyer, ws, env); err != nil {
		return nil, err
	}
	if ws, err = sessionFor(ws, buyer, domain, &listing, env); err != nil {
		return nil, err
	}
	return s.relayNext(ctx, ws, env, endpoint)
}

// relayNext checks env as the next buyer envelope of ws, within the
// session's byte limit, forwards it to the seller at endpoint and
// witnesses both. The caller holds the session's lock.
func (s *Server) relayNext(ctx context.Context, ws *witnessSession, env *anp.Envelope, endpoint string) (*anp.RelayResponse, error) {
	h, err := ws.Transcript.Check(env, ws.expectBuyer(s.now()))
	if err != nil {
		return nil, err
	}
	n, err := s.roomForBuyer(ws, env)
	if err != nil {
		return nil, err
	}
	reply, pending, err := s.forward(ctx, ws.Domain, endpoint, env)
	if err != nil {
		return nil, err
	}
	// The nonce is spent only once the seller took the envelope, so a buyer
	// whose first attempt never arrived can send the same bytes again.
	if err := s.recordNonce(ctx, env); err != nil {
		return nil, err
	}
	return s.witnessExchange(ctx, ws, env, h, n, reply, pending)
}

// sessionFor returns the witnessed session that buyer's env, for domain,
// belongs to. ws is the stored session with env's id, or nil: a PROPOSE
// opens a new session, any other envelope continues ws.
func sessionFor(ws *witnessSession, buyer, domain string, listing *anp.Listing, env *anp.Envelope) (*witnessSession, error) {
	if env.Type == anp.TypePropose {
		return openSession(ws, buyer, domain, listing, env)
	}
	if ws == nil || ws.Buyer != buyer {
		return nil, anp.Errorf(anp.CodeNotFound, "session %s not found", env.Session)
	}
	if ws.Domain != domain {
		return nil, anp.Errorf(anp.CodeBadRequest, "session %s is with %s, not %s", env.Session, ws.Domain, domain)
	}
	if err := ws.open(); err != nil {
		return nil, err
	}
	return ws, nil
}

// openSession returns the new session a PROPOSE opens with the seller
// listed as domain, unless its id is taken (ws is not nil: another
// identity's session is not_found, revealing nothing, the buyer's own a
// conflict) or the seller does not negotiate in the proposed mode.
func openSession(ws *witnessSession, buyer, domain string, listing *anp.Listing, env *anp.Envelope) (*witnessSession, error) {
	if ws != nil && ws.Buyer != buyer {
		return nil, anp.Errorf(anp.CodeNotFound, "session %s not found", env.Session)
	}
	if ws != nil {
		return nil, anp.Errorf(anp.CodeConflict, "session %s already exists: open a new session with a fresh id", env.Session)
	}
	var body anp.ProposeBody
	if err := env.DecodeBody(&body); err != nil {
		return nil, err
	}
	if !listing.Record.Record.Supports(body.Mode) {
		return nil, anp.Errorf(anp.CodeRefused, "%s does not negotiate in %s", domain, body.Mode)
	}
	if body.BuyerIdentity != "" && body.BuyerIdentity != buyer {
		return nil, anp.Errorf(anp.CodeForbidden, "the PROPOSE presents buyer identity %s…, not the identity that authenticated", shortKey(body.BuyerIdentity))
	}
	ws = &witnessSession{ID: env.Session, Domain: domain, Buyer: buyer, BuyerKey: env.From, SellerKey: listing.Binding.Key}
	if err := ws.recordSize(); err != nil {
		return nil, err
	}
	return ws, nil
}

// witnessExchange appends env, which the seller took, which hashes to h and
// adds n bytes to the record, and the seller's direct reply (none when
// pending), saves the session and answers the buyer. A reply that fails
// the witness checks (the session's byte limit included) is not kept: the
// buyer gets an unavailable error, while env stays witnessed.
func (s *Server) witnessExchange(ctx context.Context, ws *witnessSession, env *anp.Envelope, h string, n int64, reply *anp.Envelope, pending bool) (*anp.RelayResponse, error) {
	events := []witnessEvent{ws.witness(env, h, n)}
	var replyErr error
	if !pending {
		var ev witnessEvent
		if _, ev, replyErr = s.witnessSeller(ctx, ws, reply, true); replyErr == nil {
			events = append(events, ev)
		}
	}
	if err := s.saveSession(ctx, ws); err != nil {
		return nil, err
	}
	s.countEvents(ctx, ws.Domain, events...)
	if replyErr != nil {
		return nil, anp.Errorf(anp.CodeUnavailable, "%s took envelope seq %d but its reply was refused: %s", ws.Domain, env.Seq, replyErr.Error())
	}
	if pending {
		return &anp.RelayResponse{Pending: true}, nil
	}
	return &anp.RelayResponse{Reply: reply}, nil
}

// resend answers a byte-identical copy of the buyer's latest witnessed
// envelope — a retry after an unclear failure — without witnessing it twice:
// with the seller's answer when the registry has it, else by asking the
// seller again (which returns its earlier answer, or pending). ok is false
// when env is not such a copy.
func (s *Server) resend(ctx context.Context, ws *witnessSession, env *anp.Envelope, endpoint string) (*anp.RelayResponse, bool, error) {
	envs := ws.Transcript.Envelopes
	idx := -1
	for i := len(envs) - 1; i >= 0; i-- {
		if envs[i].From == ws.BuyerKey {
			idx = i
			break
		}
	}
	if idx < 0 || envs[idx].Seq != env.Seq {
		return nil, false, nil
	}
	lh, err1 := envs[idx].Hash()
	eh, err2 := env.Hash()
	if err1 != nil || err2 != nil || lh != eh {
		return nil, false, nil
	}
	if idx+1 < len(envs) {
		return &anp.RelayResponse{Reply: envs[idx+1]}, true, nil
	}
	reply, pending, err := s.forward(ctx, ws.Domain, endpoint, env)
	if err != nil {
		return nil, true, err
	}
	if pending {
		return &anp.RelayResponse{Pending: true}, true, nil
	}
	_, ev, err := s.witnessSeller(ctx, ws, reply, true)
	if err != nil {
		return nil, true, anp.Errorf(anp.CodeUnavailable, "%s answered the re-sent envelope seq %d with a reply that was refused: %v", ws.Domain, env.Seq, err)
	}
	if err := s.saveSession(ctx, ws); err != nil {
		return nil, true, err
	}
	s.countEvents(ctx, ws.Domain, ev)
	return &anp.RelayResponse{Reply: reply}, true, nil
}

// forward POSTs env to the seller route for its type and returns its reply,
// or pending when the seller answered 202 and will call back. Only the
// envelope is sent, with the registry's relay signature over it (ANP-Relay,
// protocol §12): no token, buyer identity or buyer header ever reaches the
// seller.
func (s *Server) forward(ctx context.Context, domain, endpoint string, env *anp.Envelope) (*anp.Envelope, bool, error) {
	body, err := json.Marshal(env)
	if err != nil {
		return nil, false, fmt.Errorf("registry: encode envelope: %w", err)
	}
	path, _ := anp.SellerPathFor(env.Type)
	relaySig, err := s.signRelay(ctx, anp.RelayTarget{Domain: domain, Route: path, Body: body})
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SellerTimeout)
	defer cancel()
	target := strings.TrimRight(endpoint, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, false, anp.Errorf(anp.CodeUnavailable, "seller %s has an unusable endpoint: %v", domain, err)
	}
	setForwardHeaders(req.Header, relaySig, env)
	resp, err := s.sellerHTTP.Do(req)
	if err != nil {
		return nil, false, anp.Errorf(anp.CodeUnavailable, "seller %s could not be reached: %v", domain, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := httpbody.ReadAllSized(io.LimitReader(resp.Body, maxSellerResponse+1), resp.ContentLength)
	if err != nil {
		return nil, false, anp.Errorf(anp.CodeUnavailable, "seller %s: reading the response: %v", domain, err)
	}
	if len(data) > maxSellerResponse {
		return nil, false, anp.Errorf(anp.CodeUnavailable, "seller %s answered with more than %d bytes", domain, maxSellerResponse)
	}
	return s.sellerAnswer(domain, resp.StatusCode, data)
}

// signRelay signs a request to a seller with the current chain key: sellers
// take only requests that carry the registry's signature.
func (s *Server) signRelay(ctx context.Context, t anp.RelayTarget) (string, error) {
	priv, entry, err := s.keys.current(ctx)
	if err != nil {
		return "", fmt.Errorf("registry: relay signing key: %w", err)
	}
	sig, err := anp.SignRelay(priv, entry.Index, t, s.now())
	if err != nil {
		return "", fmt.Errorf("registry: sign relay to %s: %w", t.Domain, err)
	}
	return sig, nil
}

// sellerAnswer reads a seller's HTTP answer to a forwarded envelope: its
// reply, pending, or the error to give the buyer.
func (s *Server) sellerAnswer(domain string, status int, data []byte) (*anp.Envelope, bool, error) {
	switch status {
	case http.StatusOK:
		var rr anp.RelayResponse
		if err := anp.DecodeStrict(data, &rr); err != nil {
			return nil, false, anp.Errorf(anp.CodeUnavailable, "seller %s answered with a malformed body: %v", domain, err)
		}
		if rr.Reply == nil {
			if rr.Pending {
				return nil, true, nil
			}
			return nil, false, anp.Errorf(anp.CodeUnavailable, "seller %s answered 200 without a reply", domain)
		}
		return rr.Reply, false, nil
	case http.StatusAccepted:
		return nil, true, nil
	}
	return nil, false, s.sellerRefusal(domain, status, data)
}

// sellerRefusal is the error for the buyer when a seller did not take an
// envelope. The seller's own words are logged, never passed on.
func (s *Server) sellerRefusal(domain string, status int, data []byte) error {
	var eb anp.ErrorBody
	if err := anp.DecodeStrict(data, &eb); err == nil && eb.Error != nil {
		// The seller's own words stay in the registry log: its text must not
		// reach the buyer's model outside the untrusted fence.
		s.log.Info().Str("domain", domain).Str("code", string(eb.Error.Code)).Str("message", anp.Truncate(eb.Error.Message, 500)).Msg("seller refused an envelope")
		code := eb.Error.Code
		if code.HTTPStatus() == http.StatusInternalServerError || code == anp.CodeUnauthorized {
			// Unknown codes are seller text too: never echo them.
			return anp.Errorf(anp.CodeUnavailable, "seller %s refused the envelope", domain)
		}
		return anp.Errorf(code, "seller %s refused the envelope (%s)", domain, code)
	}
	return anp.Errorf(anp.CodeUnavailable, "seller %s answered HTTP %d", domain, status)
}
