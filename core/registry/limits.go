package registry

import (
	"container/list"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/defaults"
)

// Abuse limits. The rate limits are kept in this process's memory, unless
// replicas share buckets in their store (limits_shared.go); the caps on
// WebSockets are per process (each replica holds its own sockets). A
// restart forgets what is kept in memory (and starts every source and
// identity with a full burst).
//
// Rate limits use golang.org/x/time/rate token buckets, one per source
// address (challenge, token and WebSocket upgrade requests, full
// reputation reports, whose size grows with the market) or per buyer
// identity (new sessions). A table of buckets is bounded: buckets that
// have refilled are forgotten, and past the table size the least recently
// seen source is forgotten first. No limit ever refuses everyone: a full
// table forgets an old source instead of refusing a new one.

// Defaults of the abuse limits in Config.
const (
	DefaultAuthRate           = 20.0 // challenge + token requests per second per source
	DefaultAuthBurst          = 200
	DefaultWSUpgradeRate      = 2.0 // WebSocket upgrades per second per source
	DefaultWSUpgradeBurst     = 50
	DefaultSessionRate        = 1.0 // new sessions per second per buyer identity
	DefaultSessionBurst       = 60
	DefaultReportRate         = 1.0 // full reputation reports (every party) per second per source
	DefaultReportBurst        = 20
	DefaultMaxPendingWS       = 256  // unauthenticated WebSockets at once
	DefaultMaxWS              = 4096 // WebSockets at once, authenticated or not
	DefaultMaxWSPerIdentity   = 16
	DefaultMaxCallbacksSeller = 64 // undelivered callbacks one seller may queue for one buyer
	DefaultLimiterTable       = 1 << 16
	DefaultSessionTTL         = 24 * time.Hour
	DefaultSessionSweep       = 10 * time.Minute
)

// DefaultEndpointPorts are the ports a seller endpoint may use without
// configuration (Config.EndpointPorts adds to them).
var DefaultEndpointPorts = []uint16{80, 443, 8443}

// limitRate maps a configured rate to a rate.Limit: 0 takes def, a negative
// rate means no limit.
func limitRate(configured, def float64) rate.Limit {
	switch {
	case configured < 0:
		return rate.Inf
	case configured == 0:
		return rate.Limit(def)
	}
	return rate.Limit(configured)
}

// keyedLimiter is a bounded table of token buckets, one per key (a source
// address or an identity). Entries are kept in least-recently-seen order:
// an entry whose bucket has refilled carries no information and is
// dropped, and when the table is full the least recently seen entry is
// dropped to make room. Times come from now, so tests can use a fake clock.
type keyedLimiter struct {
	what  string // "challenge and token requests", for messages
	limit rate.Limit
	burst int
	size  int
	idle  time.Duration // time for an empty bucket to refill
	now   func() time.Time

	shared *sharedLimiter // buckets shared by replicas (limits_shared.go); nil: this process's

	mu    sync.Mutex
	order *list.List // of *limiterEntry, least recently seen first
	byKey map[string]*list.Element
}

type limiterEntry struct {
	key  string
	lim  *rate.Limiter
	last time.Time
}

func newKeyedLimiter(what string, limit rate.Limit, burst, size int, now func() time.Time) *keyedLimiter {
	k := &keyedLimiter{what: what, limit: limit, burst: max(burst, 1), size: max(size, 1), now: now,
		order: list.New(), byKey: make(map[string]*list.Element)}
	if limit != rate.Inf && limit > 0 {
		k.idle = time.Duration(math.Ceil(float64(k.burst) / float64(limit) * float64(time.Second)))
	}
	return k
}

// allow takes one token from key's bucket. When the bucket is empty it
// returns a rate_limited error naming the limit and when to try again.
func (k *keyedLimiter) allow(key string) *anp.Error {
	if k.limit == rate.Inf {
		return nil
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forgetIdleLocked(now)
	el, ok := k.byKey[key]
	if ok {
		k.order.MoveToBack(el)
	} else {
		if k.order.Len() >= k.size {
			k.removeLocked(k.order.Front())
		}
		el = k.order.PushBack(&limiterEntry{key: key, lim: rate.NewLimiter(k.limit, k.burst)})
		k.byKey[key] = el
	}
	e := el.Value.(*limiterEntry)
	e.last = now
	if e.lim.AllowN(now, 1) {
		return nil
	}
	return k.refused()
}

// retryAfter is the time one token takes to come back, at least a second.
func (k *keyedLimiter) retryAfter() time.Duration {
	if k.limit <= 0 {
		return time.Minute
	}
	return max(time.Second, time.Duration(math.Ceil(1/float64(k.limit)))*time.Second)
}

// forgetIdleLocked drops entries not seen for longer than a refill.
func (k *keyedLimiter) forgetIdleLocked(now time.Time) {
	for el := k.order.Front(); el != nil; el = k.order.Front() {
		if now.Sub(el.Value.(*limiterEntry).last) < k.idle {
			return
		}
		k.removeLocked(el)
	}
}

func (k *keyedLimiter) removeLocked(el *list.Element) {
	delete(k.byKey, el.Value.(*limiterEntry).key)
	k.order.Remove(el)
}

// tracked reports how many keys the table holds.
func (k *keyedLimiter) tracked() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.order.Len()
}

// limits are the registry's rate limiters.
type limits struct {
	auth      *keyedLimiter // challenge and token requests, per source
	wsUpgrade *keyedLimiter // WebSocket upgrades, per source
	sessions  *keyedLimiter // new sessions, per buyer identity
	reports   *keyedLimiter // full reputation reports, per source
	proxies   []netip.Prefix
}

func newLimits(cfg Config) *limits {
	return &limits{
		auth:      newKeyedLimiter("challenge and token requests from your address", limitRate(cfg.AuthRate, DefaultAuthRate), cfg.AuthBurst, cfg.LimiterTable, cfg.Now),
		wsUpgrade: newKeyedLimiter("WebSocket connections from your address", limitRate(cfg.WSUpgradeRate, DefaultWSUpgradeRate), cfg.WSUpgradeBurst, cfg.LimiterTable, cfg.Now),
		sessions:  newKeyedLimiter("new sessions for your identity", limitRate(cfg.SessionRate, DefaultSessionRate), cfg.SessionBurst, cfg.LimiterTable, cfg.Now),
		reports:   newKeyedLimiter("full reputation reports from your address (one party's is not limited)", limitRate(cfg.ReportRate, DefaultReportRate), cfg.ReportBurst, cfg.LimiterTable, cfg.Now),
		proxies:   cfg.TrustedProxies,
	}
}

// allowSource takes a token of k for r's source, or answers 429 and
// returns false.
func (s *Server) allowSource(w http.ResponseWriter, r *http.Request, k *keyedLimiter) bool {
	err := k.take(r.Context(), sourceKey(clientAddr(r, s.limits.proxies)))
	if err == nil {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(k.retryAfter()/time.Second)))
	s.writeError(w, r, err)
	return false
}

// clientAddr is the address a request came from: the TCP peer, unless the
// peer is a trusted proxy (Config.TrustedProxies). Then X-Forwarded-For is
// read from the right, skipping trusted proxies, and the first address that
// is not one is the client; a malformed entry ends the walk there (the
// proxy's own address, or the last good entry, is used). Without trusted
// proxies X-Forwarded-For is ignored, so a registry behind a reverse proxy
// that is not configured sees every client as the proxy and puts them all
// in one bucket.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap()
	if !inPrefixes(addr, trusted) {
		return addr
	}
	return forwardedClient(addr, r.Header.Values("X-Forwarded-For"), trusted)
}

// forwardedClient walks X-Forwarded-For values from the right and returns
// the first address that is not a trusted proxy. peer is the (trusted) TCP
// peer; it is the answer when no entry parses.
func forwardedClient(peer netip.Addr, values []string, trusted []netip.Prefix) netip.Addr {
	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		parts := strings.Split(values[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client
			}
			client = a.Unmap().WithZone("")
			if !inPrefixes(client, trusted) {
				return client
			}
		}
	}
	return client
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// sourceKey is the limiter key of an address: an IPv4 address itself, an
// IPv6 address by its /64 (one subscriber usually holds a whole /64).
func sourceKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// ParseTrustedProxies parses a comma-separated list of addresses and CIDR
// prefixes (the --trusted-proxies flag).
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// ParsePorts parses a comma-separated list of TCP ports (the
// --endpoint-ports flag).
func ParsePorts(list string) ([]uint16, error) {
	var out []uint16
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("endpoint port %q is not a number from 1 to 65535", f)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}

// withLimitDefaults fills the abuse limits of cfg that are zero or negative
// (rates keep their sign: a negative rate means no limit).
func (cfg Config) withLimitDefaults() Config {
	cfg.AuthBurst = defaults.Positive(cfg.AuthBurst, DefaultAuthBurst)
	cfg.WSUpgradeBurst = defaults.Positive(cfg.WSUpgradeBurst, DefaultWSUpgradeBurst)
	cfg.SessionBurst = defaults.Positive(cfg.SessionBurst, DefaultSessionBurst)
	cfg.ReportBurst = defaults.Positive(cfg.ReportBurst, DefaultReportBurst)
	cfg.MaxPendingWS = defaults.Positive(cfg.MaxPendingWS, DefaultMaxPendingWS)
	cfg.MaxWS = defaults.Positive(cfg.MaxWS, DefaultMaxWS)
	cfg.MaxWSPerIdentity = defaults.Positive(cfg.MaxWSPerIdentity, DefaultMaxWSPerIdentity)
	cfg.MaxCallbacksPerSeller = defaults.Positive(cfg.MaxCallbacksPerSeller, DefaultMaxCallbacksSeller)
	cfg.LimiterTable = defaults.Positive(cfg.LimiterTable, DefaultLimiterTable)
	cfg.SessionTTL = defaults.Positive(cfg.SessionTTL, DefaultSessionTTL)
	cfg.SessionSweep = defaults.Positive(cfg.SessionSweep, DefaultSessionSweep)
	return cfg
}
