package registry

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/httpbody"
)

// statusFor and codeForStatus are the protocol's one code/status mapping.
func statusFor(code anp.Code) int       { return code.HTTPStatus() }
func codeForStatus(status int) anp.Code { return anp.CodeForStatus(status) }

// writeJSON writes v as the whole JSON body, with its Content-Length, and
// the given status.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := httpbody.MarshalJSON(v)
	if err != nil {
		s.log.Error().Err(err).Msg("encode response")
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
	}
	httpbody.Write(w, status, data)
}

// writeError writes err as an anp.ErrorBody. Errors without a protocol code
// are internal: their detail is logged, never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *anp.Error
	if !errors.As(err, &ae) || ae.Code == anp.CodeInternal {
		s.log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("request failed")
		ae = anp.Errorf(anp.CodeInternal, "internal error")
	} else {
		s.log.Debug().Str("code", string(ae.Code)).Str("method", r.Method).Str("path", r.URL.Path).Msg(ae.Message)
	}
	s.writeJSON(w, statusFor(ae.Code), anp.ErrorBody{Error: ae})
}

// readBody reads the whole request body under the size cap.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return readBodyAtMost(w, r, s.cfg.MaxBodyBytes)
}

// readBodyAtMost reads the whole request body, refusing it (too_large) as
// soon as more than limit bytes arrived.
func readBodyAtMost(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return httpbody.ReadRequest(w, r, limit)
}

// decodeBody reads the body and decodes it strictly into v (unknown fields
// and trailing data are refused).
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if err := anp.DecodeStrict(data, v); err != nil {
		return anp.Errorf(anp.CodeBadRequest, "request body: %v", err)
	}
	return nil
}

// withRecover turns a panic in a handler into a 500 with a JSON body and sets
// headers common to every response.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("registry: panic in %s %s: %v", r.Method, r.URL.Path, v))
			}
		}()
		httpbody.SetNoStore(w.Header())
		next.ServeHTTP(w, r)
	})
}

// readEnvelope reads and decodes the signed envelope a request carries:
// reading stops past anp.MaxEnvelopeBytes, the most an envelope may take.
func (s *Server) readEnvelope(w http.ResponseWriter, r *http.Request) (*anp.Envelope, error) {
	data, err := readBodyAtMost(w, r, min(s.cfg.MaxBodyBytes, anp.MaxEnvelopeBytes))
	if err != nil {
		return nil, err
	}
	return anp.DecodeEnvelope(data)
}
