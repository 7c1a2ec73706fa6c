package anp

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies a protocol failure. Codes travel on the wire in
// {"error":{"code":...,"message":...}} bodies and map to HTTP statuses.
type Code string

// Error codes of the protocol.
const (
	CodeBadRequest   Code = "bad_request"   // malformed input (400)
	CodeBadSignature Code = "bad_signature" // a signature does not verify (401)
	CodeUnauthorized Code = "unauthorized"  // missing or invalid token (401)
	CodeForbidden    Code = "forbidden"     // authenticated but not allowed (403)
	CodeNotFound     Code = "not_found"     // unknown session, domain, record (404)
	CodeConflict     Code = "conflict"      // state or version conflict (409)
	CodeExpired      Code = "expired"       // message or token past its expiry (410)
	CodeReplay       Code = "replay"        // nonce or envelope seen before (409)
	CodeOutOfOrder   Code = "out_of_order"  // wrong sequence number or previous hash (409)
	CodeUnknownType  Code = "unknown_type"  // message type not in the protocol (400)
	CodeBadState     Code = "bad_state"     // message not allowed in the session's state (409)
	CodeRefused      Code = "refused"       // the peer refused on policy grounds (422)
	CodeTooLarge     Code = "too_large"     // body over the size cap (413)
	CodeRateLimited  Code = "rate_limited"  // too many requests from one source or identity (429)
	CodeUnavailable  Code = "unavailable"   // the peer cannot be reached (502)
	CodeInternal     Code = "internal"      // a bug or storage failure (500)
)

// Error is a protocol failure with a code and a message meant for a person.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	cause   error  // the first error among Errorf's args, for errors.Is/As
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Unwrap returns the error the message was built from, if any, so that
// errors.Is finds a named failure (ErrDuplicateKey, ...) through the code.
func (e *Error) Unwrap() error { return e.cause }

// Errorf builds an *Error. An *Error among args contributes only its
// message, so wrapping never repeats a code ("bad_signature: x: bad_signature: y").
func Errorf(code Code, format string, args ...any) *Error {
	var cause error
	for i, a := range args {
		err, ok := a.(error)
		if !ok {
			continue
		}
		if cause == nil {
			cause = err
		}
		var e *Error
		if errors.As(err, &e) && err == error(e) {
			args[i] = e.Message
		}
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), cause: cause}
}

// CodeOf returns the code of the first *Error in err's chain, or "" if none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// HTTPStatus is the HTTP status a protocol error travels with.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeBadRequest, CodeUnknownType:
		return http.StatusBadRequest
	case CodeBadSignature, CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict, CodeReplay, CodeOutOfOrder, CodeBadState:
		return http.StatusConflict
	case CodeExpired:
		return http.StatusGone
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeRefused:
		return http.StatusUnprocessableEntity
	case CodeUnavailable:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// CodeForStatus is the inverse of HTTPStatus, for responses without an error body.
func CodeForStatus(status int) Code {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return CodeNotFound
	case http.StatusConflict:
		return CodeConflict
	case http.StatusGone:
		return CodeExpired
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusUnprocessableEntity:
		return CodeRefused
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return CodeUnavailable
	}
	return CodeInternal
}

// ErrorBody is the JSON body of every failed protocol HTTP response.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = &Error{Code: CodeBadSignature, Message: "signature does not verify"}
