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
	s := hostSetting(setting)
	scheme, rest, port, err := splitScheme(s)
	if err != nil {
		return nil, err
	}
	hostport, path, _ := strings.Cut(rest, "/")
	host, port, err := splitHost(s, hostport, port)
	if err != nil {
		return nil, err
	}
	n, err := parsePort(s, port)
	if err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(n))}
	if strings.Trim(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/") != "" {
		return nil, hostError(s, "the path may hold only letters, digits and -._~/")
	}
	if path != "" {
		u.Path = "/" + path
	}
	return u, nil
}

// hostSetting is the host setting in force: setting, else $OLLAMA_HOST, else
// DefaultHost, with surrounding spaces trimmed.
func hostSetting(setting string) string {
	if s := strings.TrimSpace(setting); s != "" {
		return s
	}
	if s := strings.TrimSpace(os.Getenv("OLLAMA_HOST")); s != "" {
		return s
	}
	return DefaultHost
}

// splitScheme splits host setting s into its scheme (http when it has none),
// the rest after "://", and the port that scheme implies: 11434 without a
// scheme, 80 for http and 443 for https. Other schemes are an error.
func splitScheme(s string) (scheme, rest, port string, err error) {
	scheme, rest, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		return "http", s, "11434", nil
	case scheme == "http":
		return scheme, rest, "80", nil
	case scheme == "https":
		return scheme, rest, "443", nil
	}
	return "", "", "", hostError(s, "scheme must be http or https")
}

// splitHost splits hostport, from host setting s, into a host name or IP
// address (127.0.0.1 when empty, IPv6 without brackets) and its port, port
// when hostport names none.
func splitHost(s, hostport, port string) (string, string, error) {
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else if strings.Contains(hostport, ":") && net.ParseIP(strings.Trim(hostport, "[]")) == nil {
		return "", "", hostError(s, "malformed host and port")
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		host = "127.0.0.1"
	}
	if net.ParseIP(host) == nil && !validHostName(host) {
		return "", "", hostError(s, "malformed host name")
	}
	return host, port, nil
}

// parsePort reads port, from host setting s: decimal digits only, from 1 to
// 65535.
func parsePort(s, port string) (int, error) {
	n, err := strconv.Atoi(port)
	if err != nil || strings.Trim(port, "0123456789") != "" || n < 1 || n > 65535 {
		return 0, hostError(s, "port %q is not a number between 1 and 65535", port)
	}
	return n, nil
}

// hostError is the error about host setting s: "sandbox: ollama host %q: "
// and then the problem, format with args.
func hostError(s, format string, args ...any) error {
	return fmt.Errorf("sandbox: ollama host %q: "+format, append([]any{s}, args...)...)
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
