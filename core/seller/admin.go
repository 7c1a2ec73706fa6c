package seller

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// RouteAdminFulfil is the operator route of a node's admin listener that
// fulfils a signed deal (POST FulfilRequest, bearer admin token).
const RouteAdminFulfil = "/admin/fulfil"

// FulfilRequest asks the node to fulfil the deal of Session with the
// evidence text; the node sends only its hash.
type FulfilRequest struct {
	Session  string `json:"session"`
	Evidence string `json:"evidence"`
}

// AdminHandler serves the node's operator routes, for a listener of its own
// (loopback): each request needs the bearer token. They are not part of
// the public endpoint, which takes only what the registry relayed.
func (n *Node) AdminHandler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+RouteAdminFulfil, func(w http.ResponseWriter, r *http.Request) {
		if !adminAuthorised(r, token) {
			writeAdminError(w, anp.Errorf(anp.CodeUnauthorized, "the admin token is missing or wrong"))
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, MaxEvidenceText+1024))
		if err != nil {
			writeAdminError(w, anp.Errorf(anp.CodeBadRequest, "read the request: %v", err))
			return
		}
		var req FulfilRequest
		if err := anp.DecodeStrict(data, &req); err != nil {
			writeAdminError(w, anp.Errorf(anp.CodeBadRequest, "fulfil request: %v", err))
			return
		}
		entry, err := n.Fulfil(r.Context(), req.Session, req.Evidence)
		if err != nil {
			writeAdminError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(entry)
	})
	return mux
}

func adminAuthorised(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func writeAdminError(w http.ResponseWriter, err error) {
	code := anp.CodeOf(err)
	if code == "" {
		code = anp.CodeInternal
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code.HTTPStatus())
	_ = json.NewEncoder(w).Encode(anp.ErrorBody{Error: &anp.Error{Code: code, Message: err.Error()}})
}
