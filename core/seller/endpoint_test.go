package seller

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestHandlerAtServesUnderTheEndpointPath: the routes answer under the path
// of the published endpoint (where the registry relays envelopes), and at /
// when the endpoint has no path.
func TestHandlerAtServesUnderTheEndpointPath(t *testing.T) {
	n, _ := newTestNode(t, nil)
	// An empty POST without the registry's relay signature reaches a route
	// when the route answers unauthorized (its first check), and no route
	// when the answer is not_found.
	for _, tc := range []struct {
		endpoint, method, path string
		status                 int
		code                   anp.Code
	}{
		{"http://127.0.0.1:1", http.MethodPost, "/handshake", http.StatusUnauthorized, anp.CodeUnauthorized},
		{"http://127.0.0.1:1/", http.MethodGet, "/healthz", http.StatusOK, ""},
		{"https://shop.example/anp", http.MethodPost, "/anp/handshake", http.StatusUnauthorized, anp.CodeUnauthorized},
		{"https://shop.example/anp/", http.MethodPost, "/anp/counter", http.StatusUnauthorized, anp.CodeUnauthorized},
		{"https://shop.example/anp", http.MethodGet, "/anp/healthz", http.StatusOK, ""},
		{"https://shop.example/anp", http.MethodPost, "/handshake", http.StatusNotFound, anp.CodeNotFound},
		{"https://shop.example/anp", http.MethodPost, "/anpx/handshake", http.StatusNotFound, anp.CodeNotFound},
		{"https://shop.example/a/b", http.MethodPost, "/a/b/sign", http.StatusNotFound, anp.CodeNotFound}, // no such route under the base
		{"https://shop.example/a/b", http.MethodPost, "/a/b" + anp.SellerSignRequest, http.StatusUnauthorized, anp.CodeUnauthorized},
	} {
		h, err := n.HandlerAt(tc.endpoint)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader("")))
		var body anp.ErrorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		got := anp.Code("")
		if body.Error != nil {
			got = body.Error.Code
		}
		if rec.Code != tc.status || got != tc.code {
			t.Errorf("endpoint %s, %s %s: status %d code %q, want %d %q (%s)", tc.endpoint, tc.method, tc.path, rec.Code, got, tc.status, tc.code, rec.Body)
		}
	}
	for _, bad := range []string{"", "shop.example/anp", "ftp://shop.example/anp", "http://"} {
		if _, err := n.HandlerAt(bad); err == nil {
			t.Errorf("HandlerAt(%q) accepted", bad)
		}
	}
}
