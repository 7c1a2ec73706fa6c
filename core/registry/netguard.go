package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// guardedRange is a block of addresses a seller endpoint may not point at,
// because the registry would then reach into its own network (SSRF).
type guardedRange struct {
	prefix netip.Prefix
	what   string
}

// guardedRanges lists the refused blocks. IPv4-mapped IPv6 addresses are
// unmapped before the check; NAT64 and 6to4 addresses are checked by the IPv4
// address they embed.
var guardedRanges = []guardedRange{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (this-network) address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible IPv6 address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique local address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// Prefixes whose addresses embed an IPv4 address that is checked in turn.
var (
	nat64Prefix      = netip.MustParsePrefix("64:ff9b::/96")
	nat64LocalPrefix = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFourPrefix  = netip.MustParsePrefix("2002::/16")
)

// guardAddr returns a refused error when a is an address a seller endpoint
// may not use, and nil for a public unicast address.
func guardAddr(a netip.Addr) error {
	if !a.IsValid() {
		return anp.Errorf(anp.CodeRefused, "endpoint address is not a valid IP address")
	}
	orig := a
	a = a.WithZone("").Unmap()
	for _, g := range guardedRanges {
		if g.prefix.Contains(a) {
			return anp.Errorf(anp.CodeRefused, "endpoint address %s is %s", orig, g.what)
		}
	}
	if a.Is6() {
		b := a.As16()
		var embedded netip.Addr
		switch {
		case nat64Prefix.Contains(a) || nat64LocalPrefix.Contains(a):
			embedded = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		case sixToFourPrefix.Contains(a):
			embedded = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		}
		if embedded.IsValid() {
			if err := guardAddr(embedded); err != nil {
				return anp.Errorf(anp.CodeRefused, "endpoint address %s embeds %s", orig, err.(*anp.Error).Message)
			}
		}
	}
	return nil
}

// lookupFunc resolves a host name to its addresses.
type lookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// defaultLookup resolves with net.DefaultResolver.
func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// guardHost refuses a host that is, or resolves to, any guarded address.
// Literal IPs are checked without a lookup; names must be well-formed DNS
// names (so that numeric forms like "2130706433" or "0x7f.1" never reach a
// resolver that might read them as addresses).
func guardHost(ctx context.Context, lookup lookupFunc, host string) error {
	if host == "" {
		return anp.Errorf(anp.CodeRefused, "endpoint has no host")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return guardAddr(a)
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return anp.Errorf(anp.CodeRefused, "endpoint host %q is a loopback name", host)
	}
	if err := anp.ValidateDomain(name); err != nil {
		return anp.Errorf(anp.CodeRefused, "endpoint host %q is neither an IP address nor a DNS name: %v", host, err)
	}
	addrs, err := lookup(ctx, name)
	if err != nil {
		// The resolver's words name its own address: they stay in the log
		// (endpointGuard.resolve logs them).
		return anp.Errorf(anp.CodeRefused, "endpoint host %q does not resolve", host)
	}
	if len(addrs) == 0 {
		return anp.Errorf(anp.CodeRefused, "endpoint host %q has no addresses", host)
	}
	for _, a := range addrs {
		if err := guardAddr(a); err != nil {
			return anp.Errorf(anp.CodeRefused, "endpoint host %q resolves to %s", host, strings.TrimPrefix(err.(*anp.Error).Message, "endpoint address "))
		}
	}
	return nil
}

// endpointGuard is what the checks of a published endpoint need: how to
// resolve its host and which ports it may use.
type endpointGuard struct {
	resolve lookupFunc
	ports   map[uint16]bool
}

// newEndpointGuard allows DefaultEndpointPorts and extra; resolve failures
// are logged to log with their detail, which clients never see.
func newEndpointGuard(resolve lookupFunc, extra []uint16, log zerolog.Logger) *endpointGuard {
	ports := make(map[uint16]bool, len(DefaultEndpointPorts)+len(extra))
	for _, p := range append(append([]uint16{}, DefaultEndpointPorts...), extra...) {
		ports[p] = true
	}
	logged := func(ctx context.Context, host string) ([]netip.Addr, error) {
		addrs, err := resolve(ctx, host)
		if err != nil {
			log.Info().Err(err).Str("host", host).Msg("endpoint host does not resolve")
		}
		return addrs, err
	}
	return &endpointGuard{resolve: logged, ports: ports}
}

// allowedPorts lists the allowed ports in order, for messages.
func (g *endpointGuard) allowedPorts() string {
	ps := make([]int, 0, len(g.ports))
	for p := range g.ports {
		ps = append(ps, int(p))
	}
	slices.Sort(ps)
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = strconv.Itoa(p)
	}
	return strings.Join(names, ", ")
}

// urlPort is the TCP port a URL names, its scheme's default when it names
// none (0 for an unknown scheme or a malformed port).
func urlPort(u *url.URL) uint16 {
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return 0
		}
		return uint16(n)
	}
	switch u.Scheme {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

// guardEndpoint checks the port and the host of an endpoint URL: the port
// must be 80, 443, 8443 or one the operator allowed (Config.EndpointPorts),
// so that the registry cannot be made to knock on other services of a
// public host.
func guardEndpoint(ctx context.Context, g *endpointGuard, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return anp.Errorf(anp.CodeBadRequest, "endpoint %q is not a URL: %v", endpoint, err)
	}
	if p := urlPort(u); !g.ports[p] {
		return anp.Errorf(anp.CodeRefused, "endpoint port %d is not one this registry relays to (%s)", p, g.allowedPorts())
	}
	return guardHost(ctx, g.resolve, u.Hostname())
}

// guardedDialControl is a net.Dialer Control function that refuses to
// connect to guarded addresses, whatever the name resolved to (it closes
// the DNS-rebinding gap left by checking records at publish time).
func guardedDialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("registry: refusing to dial %s %q: not an IP address and port: %w", network, address, errGuardedDial)
	}
	if err := guardAddr(ap.Addr()); err != nil {
		return fmt.Errorf("registry: refusing to dial %s: %w: %w", address, errGuardedDial, err)
	}
	return nil
}

// errGuardedDial marks a dial the SSRF guard refused.
var errGuardedDial = errors.New("guarded address")
