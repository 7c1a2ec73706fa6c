package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func FuzzParseToken(f *testing.F) {
	e := newEnv(f, nil)
	id := anptest.NewKey(f)
	good := e.token(id)
	want, err := e.srv.parseToken(context.Background(), good)
	if err != nil {
		f.Fatal(err)
	}
	body, sig, _ := strings.Cut(good, ".")
	for _, s := range []string{good, body, body + ".", "." + sig, body + "." + sig + "00", strings.ToUpper(good), "", "a.b", strings.Repeat("A", 1100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := e.srv.parseToken(context.Background(), tok)
		if err != nil {
			if anp.CodeOf(err) != anp.CodeUnauthorized {
				t.Fatalf("refusal without the unauthorized code: %v", err)
			}
			return
		}
		// Only the registry's signature makes a token: anything accepted
		// carries exactly the claims the registry issued.
		if *c != *want {
			t.Fatalf("accepted claims %+v, issued %+v", c, want)
		}
	})
}

func FuzzRelayBody(f *testing.F) {
	e := newEnv(f, nil)
	e.addSeller("pans.anp")
	identity := anptest.NewKey(f)
	tok := e.token(identity)
	h := e.srv.Handler()

	b := newBuyerSession(f, e.clock, "pans.anp")
	propose := b.Seal(anp.TypePropose, proposeBody())
	valid, _ := json.Marshal(propose)
	f.Add(valid)
	f.Add(bytes.Replace(valid, []byte(`"v":1`), []byte(`"v":1,"x":0`), 1))
	f.Add(bytes.Replace(valid, []byte(`PROPOSE`), []byte(`ACCEPT`), 1))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"v":1,"type":"COUNTER","session":"00000000000000000000000000000000","seq":2}`))
	f.Add([]byte(strings.Repeat("[", 10000)))

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/relay/pans.anp", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("HTTP 500 for body %q: %s", body, rec.Body.Bytes())
		}
		if rec.Code < 400 {
			var rr anp.RelayResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &rr); err != nil || (rr.Reply == nil && !rr.Pending) {
				t.Fatalf("HTTP %d with body %s", rec.Code, rec.Body.Bytes())
			}
			return
		}
		var eb anp.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == nil {
			t.Fatalf("HTTP %d without an error body: %s", rec.Code, rec.Body.Bytes())
		}
		if statusFor(eb.Error.Code) != rec.Code {
			t.Fatalf("HTTP %d carries code %s", rec.Code, eb.Error.Code)
		}
	})
}
