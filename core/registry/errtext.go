package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/rs/zerolog"
)

// Error text shared by the two HTTP clients of this package: the registry's
// calls to sellers (relay.go) and the registry Client.
//
// What the registry tells a client about a failed call to a seller names
// the kind of failure only: the words of Go's network errors name socket
// addresses (the registry's own among them) and resolver addresses, which
// stay in the registry's log.

// unwrapURLError drops the *url.Error wrapper that repeats method and URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// netFailure is a failed call to a seller as a client may read it: its
// text is the kind of failure; the error it wraps keeps the detail for
// errors.Is and the log.
type netFailure struct {
	kind string
	err  error
}

func (e *netFailure) Error() string { return e.kind }
func (e *netFailure) Unwrap() error { return e.err }

// failureKind names the kind of a network failure without any address.
func failureKind(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var netErr net.Error
	switch {
	case errors.Is(err, errGuardedDial):
		return "its address is not one the registry may connect to"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	case errors.As(err, &dnsErr):
		return "its host name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed early"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &certErr), errors.As(err, &recordErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr):
		return "TLS handshake failed"
	}
	return "network error"
}

// quietTransport is the transport of the registry's calls to sellers: a
// request to a port the registry does not relay to is refused before any
// connection, and every failure (also while reading the body) becomes a
// netFailure, its detail logged.
type quietTransport struct {
	next  http.RoundTripper
	ports map[uint16]bool // nil: any port
	log   zerolog.Logger
}

func (t *quietTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.ports != nil && !t.ports[urlPort(req.URL)] {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &netFailure{kind: "its port is not one the registry relays to", err: errGuardedDial}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.log.Info().Err(err).Str("host", req.URL.Host).Msg("request to a seller failed")
		return nil, &netFailure{kind: failureKind(err), err: err}
	}
	resp.Body = &quietBody{ReadCloser: resp.Body, host: req.URL.Host, log: t.log}
	return resp, nil
}

// quietBody turns read errors of a seller's answer into netFailures.
type quietBody struct {
	io.ReadCloser
	host string
	log  zerolog.Logger
}

func (b *quietBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.log.Info().Err(err).Str("host", b.host).Msg("reading a seller's answer failed")
		err = &netFailure{kind: failureKind(err), err: err}
	}
	return n, err
}

// quietClient returns a copy of hc whose transport is quiet and, when
// ports is not nil, refuses other ports.
func quietClient(hc *http.Client, ports map[uint16]bool, log zerolog.Logger) *http.Client {
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out := *hc
	out.Transport = &quietTransport{next: next, ports: ports, log: log}
	return &out
}
