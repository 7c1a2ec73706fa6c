package anp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestSellerPathFor(t *testing.T) {
	tests := []struct {
		t      anp.MsgType
		path   string
		buyer  bool
		seller bool
	}{
		{anp.TypePropose, "/handshake", true, false},
		{anp.TypeCounter, "/counter", true, true},
		{anp.TypeQuery, "/counter", true, false},
		{anp.TypeCancel, "/cancel", true, true},
		{anp.TypeCommit, "/sign_request", true, false},
		{anp.TypeAccept, "", false, true},
		{anp.TypeReject, "", false, true},
		{anp.TypeConfirm, "", false, true},
		{anp.TypeInform, "", false, true},
		{anp.TypeEscalate, "", false, true},
		{"EXIT", "", false, false},
		{"", "", false, false},
	}
	for _, tt := range tests {
		path, ok := anp.SellerPathFor(tt.t)
		if path != tt.path || ok != (tt.path != "") {
			t.Errorf("SellerPathFor(%q) = %q, %v; want %q", tt.t, path, ok, tt.path)
		}
		if got := anp.BuyerMayAsk(tt.t); got != tt.buyer {
			t.Errorf("BuyerMayAsk(%q) = %v", tt.t, got)
		}
		if got := anp.SellerMayAnswer(tt.t); got != tt.seller {
			t.Errorf("SellerMayAnswer(%q) = %v", tt.t, got)
		}
	}
	// Every protocol message type can be sent by someone.
	for _, m := range anp.MsgTypes {
		if !anp.BuyerMayAsk(m) && !anp.SellerMayAnswer(m) {
			t.Errorf("nobody may send %s", m)
		}
	}
}

func TestRoutes(t *testing.T) {
	routes := []string{anp.RouteChallenge, anp.RouteToken, anp.RouteKeys, anp.RouteDomains, anp.RouteDomain, anp.RouteRecords,
		anp.RouteDiscover, anp.RouteListing, anp.RouteRelay, anp.RouteCallbacks, anp.RouteNotary, anp.RouteLogHead,
		anp.RouteConsistency, anp.RouteInclusion, anp.RouteWS}
	seen := map[string]bool{}
	for _, r := range routes {
		if !strings.HasPrefix(r, "/v1/") || seen[r] {
			t.Errorf("route %q is not a unique /v1/ path", r)
		}
		seen[r] = true
	}
	if anp.RouteHealth != "/healthz" {
		t.Errorf("RouteHealth = %q", anp.RouteHealth)
	}
}

func TestWSAuth(t *testing.T) {
	a := &anp.WSAuth{PubKey: pub(identityKey), TS: t0Ms, Nonce: fixedNonce(0x5a)}
	if err := anp.SignWSAuth(a, anp.Signer(identityKey)); err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyWSAuth(a); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(a *anp.WSAuth)
		msg  string
	}{
		{"replayed with a new time", func(a *anp.WSAuth) { a.TS += 1000 }, "websocket auth:"},
		{"other nonce", func(a *anp.WSAuth) { a.Nonce = fixedNonce(0x5b) }, "does not verify"},
		{"claims another key", func(a *anp.WSAuth) { a.PubKey = pub(strangerKey) }, "does not verify"},
		{"signed by another key", func(a *anp.WSAuth) { _ = anp.SignWSAuth(a, anp.Signer(strangerKey)) }, "does not verify"},
		{"no signature", func(a *anp.WSAuth) { a.Sig = "" }, "signature must be 128 hex characters"},
		{"malformed key", func(a *anp.WSAuth) { a.PubKey = "" }, "public key must be 64 hex characters"},
		{"possession proof signature", func(a *anp.WSAuth) {
			c := *a
			c.Sig = ""
			a.Sig, _ = anp.Sign(identityKey, anp.PurposePoW, c)
		}, "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *a
			tt.edit(&c)
			wantCode(t, anp.VerifyWSAuth(&c), anp.CodeUnauthorized, tt.msg)
		})
	}
	if err := anp.SignWSAuth(&anp.WSAuth{}, func(anp.Purpose, any) (string, error) { return "", fmt.Errorf("no key") }); err == nil {
		t.Fatal("SignWSAuth ignored the signer's error")
	}
}

func TestWSFrameJSON(t *testing.T) {
	n := buildNegotiation(t)
	f := anp.WSFrame{Type: anp.FrameCallback, ID: mustHash(t, n.SellerCounter), Envelope: n.SellerCounter}
	var back anp.WSFrame
	if err := anp.DecodeStrict(mustJSON(t, f), &back); err != nil {
		t.Fatal(err)
	}
	if back.Type != "CALLBACK" || back.ID != f.ID || back.Envelope.VerifySignature() != nil || mustHash(t, back.Envelope) != f.ID {
		t.Fatalf("frame round trip: %+v", back)
	}
	ack := string(mustJSON(t, anp.WSFrame{Type: anp.FrameAck, ID: f.ID}))
	if ack != `{"type":"ACK","id":"`+f.ID+`"}` {
		t.Fatalf("ACK frame = %s", ack)
	}
	for _, ft := range []string{anp.FrameAuth, anp.FrameAuthOK, anp.FrameCallback, anp.FrameAck, anp.FrameError} {
		if ft == "" || strings.ToUpper(ft) != ft {
			t.Errorf("frame type %q", ft)
		}
	}
}

func TestRelayResponseJSON(t *testing.T) {
	if got := string(mustJSON(t, anp.RelayResponse{Pending: true})); got != `{"pending":true}` {
		t.Fatalf("pending = %s", got)
	}
	var r anp.SellerResponse
	if err := anp.DecodeStrict([]byte(`{}`), &r); err != nil || r.Reply != nil || r.Pending {
		t.Fatalf("empty reply = %+v, %v", r, err)
	}
	if err := anp.DecodeStrict([]byte(`{"reply":null}`), &r); !errors.Is(err, anp.ErrNullMember) {
		t.Fatalf("null reply: %v, want ErrNullMember", err)
	}
	if err := anp.DecodeStrict([]byte(`{"pending":true,"buyer":"x"}`), &r); err == nil {
		t.Fatal("unknown relay field accepted")
	}
	var k anp.KeysResponse
	body := fmt.Sprintf(`{"root_key":%q,"chain":%s}`, pub(rootKey), mustJSON(t, buildKeyChain(t, rootKey, notaryKey, nextKey)))
	if err := json.Unmarshal([]byte(body), &k); err != nil || anp.VerifyKeyChain(k.RootKey, k.Chain) != nil {
		t.Fatalf("keys response: %+v, %v", k, err)
	}
}
