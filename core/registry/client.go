package registry

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/defaults"
	"github.com/clinch-protocol/clinch-mcp/core/internal/httpbody"
)

// maxResponseBytes caps every registry response the client reads.
const maxResponseBytes = 1 << 20

// requestTimeout bounds each request of a client on its default HTTP
// client, as a deadline of the request's context: a caller's context that
// ends sooner already bounds it and is used as it is.
const requestTimeout = 30 * time.Second

// tokenMargin is how long a cached token must still be valid to be reused.
const tokenMargin = 30 * time.Second

// ClientOptions configures a Client. Zero values take defaults.
type ClientOptions struct {
	HTTP             *http.Client // default: no redirects, each request bounded by requestTimeout
	MaxPoWDifficulty int          // 0 => anp.DefaultMaxDifficulty
	RootKey          string       // pin of the registry root key, hex; empty pins the first one fetched
	Logger           zerolog.Logger
	Now              func() time.Time
	ReconnectMin     time.Duration // WS backoff start, default 250ms
	ReconnectMax     time.Duration // WS backoff cap, default 30s
	// HeadStore keeps the log watcher's remembered tree head and fork
	// alarm across restarts; nil keeps them in memory.
	HeadStore HeadStore
}

// Client talks to a registry on behalf of one identity key. It is safe for
// concurrent use.
type Client struct {
	base     string
	identity ed25519.PrivateKey
	pub      string
	opt      ClientOptions
	hc       *http.Client
	timeout  time.Duration     // bound of each request; 0 leaves it to hc
	rt       http.RoundTripper // hc's transport, used straight when hc is the default client; nil: hc.Do
	log      zerolog.Logger
	now      func() time.Time

	authMu sync.Mutex // one proof of work at a time
	mu     sync.Mutex
	tok    anp.TokenResponse
	keys   *anp.KeysResponse
	watch  logWatch
	sigs   *anp.SigCache // signatures this client verified: listings, key chains, artifacts
	authz  authHeader    // the Authorization value last built
}

// authHeader is the Authorization value of one bearer token.
type authHeader struct{ token, value string }

// SigCache returns the client's signature cache, which an engine acting as
// the same party shares so that it checks each signature once.
func (c *Client) SigCache() *anp.SigCache { return c.sigs }

// NewClient returns a client for the registry at baseURL acting as identity.
func NewClient(baseURL string, identity ed25519.PrivateKey, opt ClientOptions) *Client {
	var timeout time.Duration
	var rt http.RoundTripper
	if opt.HTTP == nil {
		rt, timeout = newClientTransport(), requestTimeout
		opt.HTTP = &http.Client{
			Transport:     rt,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	opt.MaxPoWDifficulty = defaults.Positive(opt.MaxPoWDifficulty, anp.DefaultMaxDifficulty)
	if opt.Now == nil {
		opt.Now = time.Now
	}
	opt.ReconnectMin = defaults.Positive(opt.ReconnectMin, 250*time.Millisecond)
	opt.ReconnectMax = defaults.Positive(opt.ReconnectMax, 30*time.Second)
	if opt.ReconnectMax < opt.ReconnectMin {
		opt.ReconnectMax = opt.ReconnectMin
	}
	if opt.HeadStore == nil {
		opt.HeadStore = &memHeadStore{}
	}
	pub := anp.PublicKeyHex(identity.Public().(ed25519.PublicKey))
	return &Client{
		base:     strings.TrimRight(baseURL, "/"),
		identity: identity,
		pub:      pub,
		opt:      opt,
		hc:       opt.HTTP,
		timeout:  timeout,
		rt:       rt,
		log:      opt.Logger.With().Str("component", "registry-client").Str("identity", pub[:12]).Logger(),
		now:      opt.Now,
		sigs:     anp.NewSigCache(anp.DefaultSigCacheSize),
	}
}

// newClientTransport returns the transport of a client's default HTTP
// client: http.DefaultTransport's settings (proxy from the environment,
// dial and TLS handshake timeouts) keeping defaults.IdleConnsPerHost idle
// connections to the registry instead of 2, so that a parallel cascade
// reuses its connections, for defaults.IdleConnTimeout (below the
// registry's own idle timeout).
func newClientTransport() http.RoundTripper {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok { // replaced by the program: use what it chose
		return http.DefaultTransport
	}
	tr := base.Clone()
	tr.MaxIdleConnsPerHost = defaults.IdleConnsPerHost
	tr.IdleConnTimeout = defaults.IdleConnTimeout
	return tr
}

// BaseURL returns the registry base URL without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// Authenticate runs the proof-of-work login: it asks for a challenge bound
// to the identity key, refuses a difficulty above the cap, solves it, signs
// the proof of possession and caches the token it gets.
func (c *Client) Authenticate(ctx context.Context) (anp.TokenResponse, error) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return c.authenticateLocked(ctx)
}

func (c *Client) authenticateLocked(ctx context.Context) (anp.TokenResponse, error) {
	var ch anp.Challenge
	if err := c.call(ctx, http.MethodPost, anp.RouteChallenge, "", anp.ChallengeRequest{PubKey: c.pub}, "", &ch); err != nil {
		return anp.TokenResponse{}, err
	}
	if ch.PubKey != c.pub {
		return anp.TokenResponse{}, anp.Errorf(anp.CodeBadRequest, "registry issued a challenge for another key")
	}
	sol, err := anp.SolvePoW(ctx, &ch, c.opt.MaxPoWDifficulty)
	if err != nil {
		return anp.TokenResponse{}, fmt.Errorf("registry: authenticate: %w", err)
	}
	sig, err := anp.Sign(c.identity, anp.PurposePoW, anp.PossessionProof{ChallengeID: ch.ID, Nonce: ch.Nonce, PubKey: c.pub, Solution: sol})
	if err != nil {
		return anp.TokenResponse{}, err
	}
	var tok anp.TokenResponse
	req := anp.TokenRequest{ChallengeID: ch.ID, PubKey: c.pub, Solution: sol, Sig: sig}
	if err := c.call(ctx, http.MethodPost, anp.RouteToken, "", req, "", &tok); err != nil {
		return anp.TokenResponse{}, err
	}
	if tok.Token == "" {
		return anp.TokenResponse{}, anp.Errorf(anp.CodeUnavailable, "registry returned an empty token")
	}
	c.SetToken(tok)
	c.log.Debug().Int("difficulty", ch.Difficulty).Msg("authenticated")
	return tok, nil
}

// SetToken caches a token (for example one restored from disk), so that the
// next calls skip the proof of work while it is valid.
func (c *Client) SetToken(tok anp.TokenResponse) {
	c.mu.Lock()
	c.tok = tok
	c.mu.Unlock()
}

// Token returns the cached token while it has more than 30 s left, and
// authenticates otherwise.
func (c *Client) Token(ctx context.Context) (string, error) {
	if t, ok := c.cachedToken(); ok {
		return t, nil
	}
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if t, ok := c.cachedToken(); ok { // another caller authenticated meanwhile
		return t, nil
	}
	tok, err := c.authenticateLocked(ctx)
	if err != nil {
		return "", err
	}
	return tok.Token, nil
}

func (c *Client) cachedToken() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.Token == "" || c.tok.ExpiresAt-c.now().UnixMilli() <= tokenMargin.Milliseconds() {
		return "", false
	}
	return c.tok.Token, true
}

// dropToken forgets tok if it is still the cached token.
func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	if c.tok.Token == tok {
		c.tok = anp.TokenResponse{}
	}
	c.mu.Unlock()
}

// Keys returns the registry's verified key chain. It is fetched once and
// refreshed when a signature names a key the cached chain does not have.
func (c *Client) Keys(ctx context.Context) (*anp.KeysResponse, error) {
	c.mu.Lock()
	k := c.keys
	c.mu.Unlock()
	if k != nil {
		return k, nil
	}
	return c.refreshKeys(ctx)
}

// refreshKeys fetches and verifies the key chain: it must verify under its
// root key, match the pinned root key if any, and extend the chain cached
// before (same root, same earlier entries).
func (c *Client) refreshKeys(ctx context.Context) (*anp.KeysResponse, error) {
	var k anp.KeysResponse
	if err := c.call(ctx, http.MethodGet, anp.RouteKeys, "", nil, "", &k); err != nil {
		return nil, err
	}
	if c.opt.RootKey != "" && k.RootKey != c.opt.RootKey {
		return nil, anp.Errorf(anp.CodeBadSignature, "registry root key %s is not the pinned key %s", shortKey(k.RootKey), shortKey(c.opt.RootKey))
	}
	if err := anp.VerifyKeyChain(k.RootKey, k.Chain); err != nil {
		return nil, fmt.Errorf("registry: key chain: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.keys; old != nil {
		if old.RootKey != k.RootKey {
			return nil, anp.Errorf(anp.CodeBadSignature, "registry root key changed from %s to %s", shortKey(old.RootKey), shortKey(k.RootKey))
		}
		if len(k.Chain) < len(old.Chain) {
			return nil, anp.Errorf(anp.CodeBadSignature, "registry key chain shrank from %d to %d entries", len(old.Chain), len(k.Chain))
		}
		for i := range old.Chain {
			if old.Chain[i] != k.Chain[i] {
				return nil, anp.Errorf(anp.CodeBadSignature, "registry key chain entry %d changed", i)
			}
		}
	}
	c.keys = &k
	return &k, nil
}

// KeyChainFor returns the registry's verified key chain (pinned by
// ClientOptions.RootKey), fetched again once when the cached chain does not
// hold key index kid yet: a seller node verifying the registry's relay
// signatures after a key rotation.
func (c *Client) KeyChainFor(ctx context.Context, kid uint64) (*anp.KeysResponse, error) {
	return c.chainFor(ctx, kid)
}

// chainFor returns a verified chain that contains kid, refreshing once.
func (c *Client) chainFor(ctx context.Context, kid uint64) (*anp.KeysResponse, error) {
	k, err := c.Keys(ctx)
	if err != nil {
		return nil, err
	}
	if kid < uint64(len(k.Chain)) {
		return k, nil
	}
	if k, err = c.refreshKeys(ctx); err != nil {
		return nil, err
	}
	if kid >= uint64(len(k.Chain)) {
		return nil, anp.Errorf(anp.CodeBadSignature, "registry key %d is not in the registry key chain (%d entries)", kid, len(k.Chain))
	}
	return k, nil
}

// Discover lists sellers; listings that fail verification are dropped and logged.
func (c *Client) Discover(ctx context.Context, category string, mode anp.Mode, limit int) ([]anp.Listing, error) {
	return c.DiscoverMin(ctx, category, mode, limit, 0)
}

// DiscoverMin is Discover keeping only the sellers whose reputation
// (0..100, docs/reputation.md) is at least minTrust; the registry filters
// before it applies limit, and the client checks again.
func (c *Client) DiscoverMin(ctx context.Context, category string, mode anp.Mode, limit int, minTrust float64) ([]anp.Listing, error) {
	q := url.Values{}
	if minTrust > 0 {
		q.Set("min_trust", strconv.FormatFloat(minTrust, 'f', -1, 64))
	}
	if category != "" {
		q.Set("category", category)
	}
	if mode != "" {
		q.Set("mode", string(mode))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var resp anp.DiscoverResponse
	if err := c.authCall(ctx, http.MethodGet, anp.RouteDiscover, q.Encode(), nil, &resp); err != nil {
		return nil, err
	}
	out := make([]anp.Listing, 0, len(resp.Results))
	for _, l := range resp.Results {
		if l.Stats.Score < minTrust {
			c.log.Warn().Str("domain", l.Binding.Domain).Float64("score", l.Stats.Score).Msg("dropping a listing below min_trust that the registry returned")
			continue
		}
		if err := c.verifyListing(ctx, &l); err != nil {
			c.log.Warn().Err(err).Str("domain", l.Binding.Domain).Msg("dropping a listing that fails verification")
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

func (c *Client) verifyListing(ctx context.Context, l *anp.Listing) error {
	k, err := c.chainFor(ctx, l.Binding.KeyIndex)
	if err != nil {
		return err
	}
	return l.VerifyWith(c.sigs, k.Chain)
}

// Listing returns one seller's verified listing.
func (c *Client) Listing(ctx context.Context, domain string) (*anp.Listing, error) {
	var l anp.Listing
	if err := c.authCall(ctx, http.MethodGet, "/v1/listings/"+url.PathEscape(domain), "", nil, &l); err != nil {
		return nil, err
	}
	if err := c.verifyListing(ctx, &l); err != nil {
		return nil, fmt.Errorf("registry: listing of %s: %w", domain, err)
	}
	if l.Binding.Domain != domain {
		return nil, anp.Errorf(anp.CodeBadSignature, "registry answered with the listing of %s for %s", l.Binding.Domain, domain)
	}
	return &l, nil
}

// Relay sends a buyer envelope to a seller through the registry. The reply
// (when not pending) is the seller's signed envelope; the caller verifies it
// against its own transcript. A PROPOSE, which opens a new deal, is
// refused with ErrLogFork once the log watcher has seen a fork.
func (c *Client) Relay(ctx context.Context, domain string, env *anp.Envelope) (*anp.RelayResponse, error) {
	if env.Type == anp.TypePropose {
		if err := c.forkErr(); err != nil {
			return nil, err
		}
	}
	var resp anp.RelayResponse
	if err := c.authCall(ctx, http.MethodPost, "/v1/relay/"+url.PathEscape(domain), "", env, &resp); err != nil {
		return nil, err
	}
	if resp.Reply == nil && !resp.Pending {
		return nil, anp.Errorf(anp.CodeUnavailable, "registry relay answered with neither a reply nor pending")
	}
	return &resp, nil
}

// Notarize asks the registry to countersign and log a buyer- and
// seller-signed artifact. The artifact it returns has been verified
// completely against the pinned registry root key: the same deal (terms,
// buyer and seller signatures) as a, the registry key chain under the
// pinned root, the countersignature, the signed tree head and the log
// inclusion proof. The pinned root is ClientOptions.RootKey; a client
// configured without one pins the root of the first key chain it fetches
// (see Keys) and refuses any other for its lifetime. This is the one place
// a notarised artifact is verified: callers need not verify it again.
//
// The log watcher takes part: once it has seen a fork, Notarize refuses
// with ErrLogFork before sending anything; the receipt's tree head must be
// consistent with the newest head seen before, or the fork alarm is raised
// and the artifact is not returned.
func (c *Client) Notarize(ctx context.Context, a *anp.Artifact) (*anp.Artifact, error) {
	if err := c.forkErr(); err != nil {
		return nil, err
	}
	var out anp.Artifact
	if err := c.authCall(ctx, http.MethodPost, anp.RouteNotary, "", anp.NotarizeRequest{Artifact: a}, &out); err != nil {
		return nil, err
	}
	same, err := anp.SameDeal(a, &out)
	if err != nil {
		return nil, err
	}
	if !same {
		return nil, anp.Errorf(anp.CodeBadSignature, "registry returned an artifact for a different deal")
	}
	root, err := c.pinnedRoot(ctx)
	if err != nil {
		return nil, err
	}
	if err := anp.VerifyArtifact(&out, anp.VerifyOptions{RootKey: root, Cache: c.sigs}); err != nil {
		return nil, fmt.Errorf("registry: notarised artifact: %w", err)
	}
	if err := c.observeHead(ctx, &out.Receipt.TreeHead); err != nil {
		return nil, fmt.Errorf("registry: notarised artifact's tree head: %w", err)
	}
	return &out, nil
}

// pinnedRoot returns the registry root key this client trusts: the
// configured one, or else the root of the key chain it fetched first.
func (c *Client) pinnedRoot(ctx context.Context) (string, error) {
	if c.opt.RootKey != "" {
		return c.opt.RootKey, nil
	}
	k, err := c.Keys(ctx)
	if err != nil {
		return "", err
	}
	return k.RootKey, nil
}

// LogHead returns the current signed tree head, verified against the chain
// and checked by the log watcher: when it is newer than the remembered head
// its consistency proof is fetched and verified, and a fork raises the
// alarm (the error then wraps ErrLogFork and the head is returned too).
func (c *Client) LogHead(ctx context.Context) (*anp.SignedTreeHead, error) {
	var h anp.SignedTreeHead
	if err := c.call(ctx, http.MethodGet, anp.RouteLogHead, "", nil, "", &h); err != nil {
		return nil, err
	}
	k, err := c.chainFor(ctx, h.KeyIndex)
	if err != nil {
		return nil, err
	}
	if err := anp.VerifyTreeHead(&h, k.Chain); err != nil {
		return nil, fmt.Errorf("registry: log head: %w", err)
	}
	if err := anp.CheckHeadFresh(&h, c.now()); err != nil {
		return nil, fmt.Errorf("registry: log head: %w", err)
	}
	if err := c.observeHead(ctx, &h); err != nil {
		return &h, err
	}
	return &h, nil
}

// Consistency returns the consistency proof between two tree sizes; check
// it with anp.VerifyConsistency against two signed heads.
func (c *Client) Consistency(ctx context.Context, first, second uint64) ([]string, error) {
	return c.proof(ctx, anp.RouteConsistency, pairQuery("first", first, "second", second))
}

// proof fetches a Merkle proof from a log route.
func (c *Client) proof(ctx context.Context, route, query string) ([]string, error) {
	var p anp.ProofResponse
	if err := c.call(ctx, http.MethodGet, route, query, nil, "", &p); err != nil {
		return nil, err
	}
	return p.Proof, nil
}

// pairQuery is the query a=x&b=y of two numbers, as url.Values.Encode
// writes it for names a < b that need no escaping.
func pairQuery(a string, x uint64, b string, y uint64) string {
	var held [64]byte
	q := append(append(held[:0], a...), '=')
	q = append(append(append(strconv.AppendUint(q, x, 10), '&'), b...), '=')
	return string(strconv.AppendUint(q, y, 10))
}

// Inclusion returns the inclusion proof of leaf index in the tree of size;
// check it with anp.VerifyInclusion against a signed head of that size.
func (c *Client) Inclusion(ctx context.Context, index, size uint64) ([]string, error) {
	return c.proof(ctx, anp.RouteInclusion, pairQuery("index", index, "size", size))
}

// LogEntries returns log leaves from start on, at least one and at most
// end-start (the registry may answer fewer, anp.MaxLogEntriesPage at most).
// The leaves are not verified: rebuild the tree from them and compare its
// root with a signed tree head.
func (c *Client) LogEntries(ctx context.Context, start, end uint64) ([][]byte, error) {
	q := url.Values{"start": {strconv.FormatUint(start, 10)}, "end": {strconv.FormatUint(end, 10)}}
	var resp anp.EntriesResponse
	if err := c.call(ctx, http.MethodGet, anp.RouteEntries, q.Encode(), nil, "", &resp); err != nil {
		return nil, err
	}
	if resp.Start != start || len(resp.Entries) == 0 || uint64(len(resp.Entries)) > end-start {
		return nil, anp.Errorf(anp.CodeUnavailable, "registry answered entries from %d (%d of them) for [%d, %d)", resp.Start, len(resp.Entries), start, end)
	}
	return resp.Entries, nil
}

// Bind binds domain to this client's identity key on the control plane.
// grant is the enrolment grant for domain from the registry operator; it
// may be empty on registries with open enrollment, and when the domain is
// bound to this key already.
func (c *Client) Bind(ctx context.Context, domain, grant string) (*anp.DomainBinding, error) {
	req := anp.BindRequest{Domain: domain, Key: c.pub, TS: c.now().UnixMilli()}
	if err := anp.SignBindRequest(&req, anp.Signer(c.identity)); err != nil {
		return nil, err
	}
	var b anp.DomainBinding
	if err := c.call(ctx, http.MethodPost, anp.RouteDomains, "", req, grant, &b); err != nil {
		return nil, err
	}
	k, err := c.chainFor(ctx, b.KeyIndex)
	if err != nil {
		return nil, err
	}
	if err := b.Verify(k.Chain); err != nil {
		return nil, fmt.Errorf("registry: binding of %s: %w", domain, err)
	}
	if b.Domain != domain || b.Key != c.pub {
		return nil, anp.Errorf(anp.CodeBadSignature, "registry answered with a binding of %s to %s", b.Domain, shortKey(b.Key))
	}
	return &b, nil
}

// PublishRecord publishes a seller-signed endpoint record and returns the
// verified listing.
func (c *Client) PublishRecord(ctx context.Context, rec anp.SignedRecord) (*anp.Listing, error) {
	var l anp.Listing
	if err := c.call(ctx, http.MethodPost, anp.RouteRecords, "", rec, "", &l); err != nil {
		return nil, err
	}
	if err := c.verifyListing(ctx, &l); err != nil {
		return nil, fmt.Errorf("registry: published listing: %w", err)
	}
	return &l, nil
}

// PostCallback sends a seller-signed envelope for the buyer of a session.
func (c *Client) PostCallback(ctx context.Context, env *anp.Envelope) error {
	return c.call(ctx, http.MethodPost, anp.RouteCallbacks, "", env, "", nil)
}

// authCall is call with the identity's token. On 401 it drops the token,
// authenticates again once and retries.
func (c *Client) authCall(ctx context.Context, method, path, query string, in, out any) error {
	tok, err := c.Token(ctx)
	if err != nil {
		return err
	}
	err = c.call(ctx, method, path, query, in, tok, out)
	if anp.CodeOf(err) != anp.CodeUnauthorized {
		return err
	}
	c.log.Debug().Str("path", path).Msg("token refused, authenticating again")
	c.dropToken(tok)
	if tok, err = c.Token(ctx); err != nil {
		return err
	}
	return c.call(ctx, method, path, query, in, tok, out)
}

// call performs one request. in (if not nil) is sent as JSON; a 2xx answer
// is decoded into out (if not nil); anything else becomes an *anp.Error.
func (c *Client) call(ctx context.Context, method, path, query string, in any, bearerToken string, out any) error {
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	req, err := c.newRequest(ctx, method, path, query, in, bearerToken)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		ae := anp.Errorf(anp.CodeUnavailable, "registry %s %s: %v", method, path, unwrapURLError(err))
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%w)", ae, ctx.Err())
		}
		return ae
	}
	defer resp.Body.Close()
	data, err := httpbody.ReadAllSized(io.LimitReader(resp.Body, maxResponseBytes+1), resp.ContentLength)
	if err != nil {
		return anp.Errorf(anp.CodeUnavailable, "registry %s %s: reading the response: %v", method, path, err)
	}
	if len(data) > maxResponseBytes {
		return anp.Errorf(anp.CodeTooLarge, "registry %s %s: response is larger than %d bytes", method, path, maxResponseBytes)
	}
	err = decodeAnswer(method, path, resp.StatusCode, data, out)
	if resp.StatusCode == http.StatusTooManyRequests {
		return rateLimited(err, resp.Header)
	}
	return err
}

// do sends req. On the default HTTP client it goes straight to the
// transport: that client follows no redirect (a 3xx answer is returned as
// it is, as the transport returns it), keeps no cookies and has no timeout
// of its own (bounded sets the request's), so http.Client would add only
// copies of the request and its headers. A failure is an *url.Error, as
// http.Client returns it.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	if c.rt == nil {
		return c.hc.Do(req)
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		op := req.Method[:1] + strings.ToLower(req.Method[1:])
		return nil, &url.Error{Op: op, URL: req.URL.Redacted(), Err: err}
	}
	return resp, nil
}

// bounded is ctx bounded by the client's request timeout: ctx itself when
// the client has none or ctx ends within it already, else a context with
// that deadline, whose cancel the caller calls once the answer is read.
func (c *Client) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return ctx, func() {}
	}
	if end, ok := ctx.Deadline(); ok && time.Until(end) <= c.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// newRequest builds the request of call: in (if not nil) as a JSON body,
// q as the query, bearerToken (if set) as the Authorization.
func (c *Client) newRequest(ctx context.Context, method, path, query string, in any, bearerToken string) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("registry: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	target := c.base + path
	if query != "" {
		target += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("registry: %s %s: %w", method, path, err)
	}
	setRequestHeaders(req.Header, in != nil, c.authorization(bearerToken))
	return req, nil
}

// authorization is the Authorization value for bearerToken ("" for none).
// The last one built is kept: a client sends one token for its lifetime.
func (c *Client) authorization(bearerToken string) string {
	if bearerToken == "" {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authz.token != bearerToken {
		c.authz = authHeader{token: bearerToken, value: "Bearer " + bearerToken}
	}
	return c.authz.value
}

// setRequestHeaders sets the headers of call's request: Accept, and
// Content-Type when it has a body, Authorization when it is set. The
// values share one backing array, each slice capped at its own value.
func setRequestHeaders(h http.Header, hasBody bool, authorization string) {
	vals := make([]string, 0, 3)
	set := func(key, value string) {
		vals = append(vals, value)
		h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set("Accept", "application/json")
	if hasBody {
		set("Content-Type", "application/json")
	}
	if authorization != "" {
		set("Authorization", authorization)
	}
}

// decodeAnswer decodes a 2xx answer's data into out (if not nil) and turns
// any other status into an *anp.Error: the registry's own error body when
// it sent one, else the status with the start of the text.
func decodeAnswer(method, path string, status int, data []byte, out any) error {
	if status < 200 || status > 299 {
		var eb anp.ErrorBody
		if anp.DecodeStrict(data, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
			return fmt.Errorf("registry: %s %s: %w", method, path, eb.Error)
		}
		return anp.Errorf(anp.CodeForStatus(status), "registry %s %s: HTTP %d: %s", method, path, status, anp.Truncate(strings.TrimSpace(string(data)), 200))
	}
	if out == nil {
		return nil
	}
	if err := anp.DecodeStrict(data, out); err != nil {
		return anp.Errorf(anp.CodeUnavailable, "registry %s %s: malformed response: %v", method, path, err)
	}
	return nil
}

func shortKey(k string) string {
	if len(k) > 12 {
		return k[:12]
	}
	return k
}

// isTransient reports whether a handler error should leave a callback
// un-ACKed so that the registry delivers it again.
func isTransient(err error) bool {
	switch anp.CodeOf(err) {
	case anp.CodeInternal, anp.CodeUnavailable:
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// maxRetryAfter bounds the wait a Retry-After header can ask for.
const maxRetryAfter = time.Hour

// RateLimitError is a rate_limited (429) answer of the registry, with the
// wait its Retry-After header asked for. Err is the registry's error (an
// *anp.Error with the code rate_limited, whose message says which limit
// and when to try again), so anp.CodeOf and errors.Is see through it.
type RateLimitError struct {
	RetryAfter time.Duration // 0: the answer had no usable Retry-After
	Err        error
}

func (e *RateLimitError) Error() string { return e.Err.Error() }
func (e *RateLimitError) Unwrap() error { return e.Err }

// rateLimited wraps err, the error of a 429 answer, with the delay of its
// Retry-After header (delay-seconds; an HTTP date or anything else gives 0).
func rateLimited(err error, h http.Header) error {
	rl := &RateLimitError{Err: err}
	if secs, perr := strconv.ParseUint(strings.TrimSpace(h.Get("Retry-After")), 10, 32); perr == nil {
		rl.RetryAfter = min(time.Duration(secs)*time.Second, maxRetryAfter)
	}
	return rl
}
