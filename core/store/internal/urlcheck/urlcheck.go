// Package urlcheck holds the connection-string checks shared by the store
// backends, so that no password can reach an error message.
package urlcheck

import (
	"net/url"
	"strings"
)

// UserinfoAsWritten reports whether the user info of rawURL as written
// (between "://" and the last '@') is the user info url.Parse found in it.
// An unencoded '/', '?' or '#' in a password ends the authority early and
// moves the rest of the password into the host, path or query, where
// error messages would quote it. (An unencoded '@' in a query value also
// fails the check, and is refused with the advice to encode it.)
func UserinfoAsWritten(rawURL string, u *url.URL) bool {
	_, rest, ok := strings.Cut(rawURL, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return u.User == nil
	}
	if u.User == nil {
		return false
	}
	if strings.Contains(rest[:at], "@") {
		return false // an unencoded '@' in a password; pgconn's masking stops at the first
	}
	written, err := url.PathUnescape(rest[:at])
	if err != nil {
		return false
	}
	parsed := u.User.Username()
	if p, ok := u.User.Password(); ok {
		parsed += ":" + p
	}
	return written == parsed
}
