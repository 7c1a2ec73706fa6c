package sandbox

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// DefaultHost is the Ollama address used when neither the configuration nor
// $OLLAMA_HOST names one.
const DefaultHost = "http://127.0.0.1:11434"

// resolveHost turns an Ollama host setting into a base URL, the way the
// ollama CLI reads $OLLAMA_HOST: "host", "host:port", "http://host[:port]" or
// "https://host[:port]", with an optional path. Without a scheme the scheme is
// http and the port 11434; with a scheme the port defaults to the scheme's.
// An empty setting falls back to $OLLAMA_HOST, then to DefaultHost.
func resolveHost(setting string) (*url.URL, error) {
	s := strings.TrimSpace(setting)
	if s == "" {
		s = strings.TrimSpace(os.Getenv("OLLAMA_HOST"))
	}
	if s == "" {
		s = DefaultHost
	}
	scheme, rest, ok := strings.Cut(s, "://")
	port := "11434"
	switch {
	case !ok:
		scheme, rest = "http", s
	case scheme == "http":
		port = "80"
	case scheme == "https":
		port = "443"
	default:
		return nil, fmt.Errorf("sandbox: ollama host %q: scheme must be http or https", s)
	}
	hostport, path, _ := strings.Cut(rest, "/")
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else if strings.Contains(hostport, ":") && net.ParseIP(strings.Trim(hostport, "[]")) == nil {
		return nil, fmt.Errorf("sandbox: ollama host %q: malformed host and port", s)
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		host = "127.0.0.1"
	}
	if net.ParseIP(host) == nil && !validHostName(host) {
		return nil, fmt.Errorf("sandbox: ollama host %q: malformed host name", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || strings.Trim(port, "0123456789") != "" || n < 1 || n > 65535 {
		return nil, fmt.Errorf("sandbox: ollama host %q: port %q is not a number between 1 and 65535", s, port)
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(n))}
	if strings.Trim(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/") != "" {
		return nil, fmt.Errorf("sandbox: ollama host %q: the path may hold only letters, digits and -._~/", s)
	}
	if path != "" {
		u.Path = "/" + path
	}
	return u, nil
}

// validHostName reports whether h is a DNS name: letters, digits, hyphens,
// underscores and dots.
func validHostName(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// isLoopback reports whether the URL's host is this machine.
func isLoopback(u *url.URL) bool {
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
