package registry

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

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
		return anp.Errorf(anp.CodeRefused, "endpoint host %q does not resolve: %v", host, err)
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

// guardEndpoint checks the host of an endpoint URL.
func guardEndpoint(ctx context.Context, lookup lookupFunc, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return anp.Errorf(anp.CodeBadRequest, "endpoint %q is not a URL: %v", endpoint, err)
	}
	return guardHost(ctx, lookup, u.Hostname())
}

// guardedDialControl is a net.Dialer Control function that refuses to
// connect to guarded addresses, whatever the name resolved to (it closes
// the DNS-rebinding gap left by checking records at publish time).
func guardedDialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("registry: refusing to dial %s %q: not an IP address and port", network, address)
	}
	if err := guardAddr(ap.Addr()); err != nil {
		return fmt.Errorf("registry: refusing to dial %s: %w", address, err)
	}
	return nil
}
