package registry_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/sqlitestore"
)

// The tests in this file run the real registry on a SQLite ledger with a
// real seller node, both on loopback.

// witnessNet is a registry on loopback, storing in SQLite, with one seller
// node listed as pans.anp.
type witnessNet struct {
	t      *testing.T
	clock  *anptest.Clock
	url    string
	root   string
	ledger store.Ledger
	node   *seller.Node
}

func newWitnessNet(t *testing.T, maxSessionBytes int64) *witnessNet {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	clock := anptest.NewClock(time.Now())
	reg, err := registry.New(ctx, registry.Config{Root: anptest.NewKey(t), Ledger: db.Ledger(), Nonces: db.Nonces(), Difficulty: 4,
		OpenEnrollment: true, AllowPrivateEndpoints: true, Logger: zerolog.Nop(), Now: clock.Now, MaxSessionBytes: maxSessionBytes})
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	ts := httptest.NewServer(reg.Handler())
	t.Cleanup(func() { ts.Close(); _ = reg.Close() })
	w := &witnessNet{t: t, clock: clock, url: ts.URL, root: reg.RootKey(), ledger: db.Ledger()}

	key := anptest.NewKey(t)
	node, err := seller.NewNode(seller.Config{Domain: "pans.anp", Identity: key, Categories: []string{"kitchen"}, Registry: w.client(key),
		Policy: &seller.CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(8000), Exponent: 1, MaxTurns: 5}, Now: clock.Now})
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	srv := httptest.NewServer(node.Handler())
	t.Cleanup(func() { srv.Close(); _ = node.Close() })
	if _, err := node.Register(ctx, srv.URL, ""); err != nil {
		t.Fatalf("Register: %v", err)
	}
	w.node = node
	return w
}

// client returns a registry client for identity with the root key pinned.
func (w *witnessNet) client(identity ed25519.PrivateKey) *registry.Client {
	return registry.NewClient(w.url, identity, registry.ClientOptions{RootKey: w.root, Now: w.clock.Now})
}

// stored returns the registry's stored record of a session.
func (w *witnessNet) stored(id string) []byte {
	w.t.Helper()
	data, err := w.ledger.Get(context.Background(), "sessions", id)
	if err != nil {
		w.t.Fatalf("stored session %s: %v", id, err)
	}
	return data
}

// party starts a buyer session with the node.
func (w *witnessNet) party() *anptest.Party {
	p := anptest.NewParty(w.t, w.node.Domain(), w.clock.Now)
	p.Peer = w.node.PublicKey()
	return p
}

// must relays env through c, which must be answered, and records both.
func must(p *anptest.Party, c *registry.Client, env *anp.Envelope) *anp.Envelope {
	t := p.T()
	t.Helper()
	resp, err := c.Relay(context.Background(), p.To, env)
	if err != nil || resp.Reply == nil {
		t.Fatalf("%s seq %d through the registry: %v (%+v)", env.Type, env.Seq, err, resp)
	}
	p.Record(env)
	p.Accept(resp.Reply)
	return resp.Reply
}

// postRelay posts raw envelope bytes to the relay route with a token.
func postRelay(t *testing.T, url, domain, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/relay/"+domain, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// compactBytes is what the envelopes of a transcript take in compact JSON.
func compactBytes(t *testing.T, envs []*anp.Envelope) int {
	t.Helper()
	n := 0
	for _, env := range envs {
		c, err := anp.Canonical(env)
		if err != nil {
			t.Fatal(err)
		}
		n += len(c) + 1
	}
	return n
}

// paddedQueries is how many padded QUERYs the flood sends: 500, or 100
// under the race detector, which makes each some eight times slower.
// scripts/test.sh runs the full count in its flood stage.
func paddedQueries() int {
	if registry.RaceEnabled {
		return 100
	}
	return 500
}

// TestPaddedQueriesStayCompactAndCapped: a buyer sends 500 QUERYs, each
// body padded to ~14 KiB with white space, escapes and reordered members,
// into one session. The registry stores them in canonical form — the
// stored record stays within a few hundred bytes of the compact envelopes
// and the whole transcript still verifies — and once the session reaches
// its byte limit every further QUERY is refused with too_large naming the
// limit, reaching neither the store nor the seller. Meanwhile another
// buyer completes and notarises a deal.
func TestPaddedQueriesStayCompactAndCapped(t *testing.T) {
	const (
		limit = 20 << 10
		pad   = 16 << 10
	)
	queries := paddedQueries()
	w := newWitnessNet(t, limit)
	ctx := context.Background()
	c := w.client(anptest.NewKey(t))
	tok, err := c.Authenticate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := w.party()
	low := anptest.USD(5000)
	must(p, c, p.Seal(anp.TypePropose, anp.ProposeBody{Mode: anp.ModeC, Item: "Dutch oven", Quantity: 1, Currency: "USD", Offer: &low}))

	question := strings.Repeat("Is the enamel lead free and safe for induction hobs? ", 5)
	var wireWitnessed, wireAll, witnessed, refused int
	var frozen []byte // the stored record once the limit was reached
	var sellerBytes int64
	for i := range queries {
		if i == queries/2 {
			otherBuyerDeal(t, w)
		}
		q := p.Seal(anp.TypeQuery, anp.NoteBody{Reason: "question", Message: question})
		wire := registry.PaddedWire(t, q, pad)
		wireAll += len(wire)
		status, body := postRelay(t, w.url, p.To, tok.Token, wire)
		if status == http.StatusOK {
			if frozen != nil {
				t.Fatalf("QUERY %d taken after the session was refused", i+1)
			}
			var rr anp.RelayResponse
			if err := anp.DecodeStrict(body, &rr); err != nil || rr.Reply == nil {
				t.Fatalf("QUERY %d: %s (%v)", i+1, body, err)
			}
			p.Record(q)
			p.Accept(rr.Reply)
			witnessed++
			wireWitnessed += len(wire)
			continue
		}
		var eb anp.ErrorBody
		if err := anp.DecodeStrict(body, &eb); err != nil || eb.Error == nil || status != http.StatusRequestEntityTooLarge ||
			eb.Error.Code != anp.CodeTooLarge || !strings.Contains(eb.Error.Message, fmt.Sprintf("at most %d bytes per session", limit)) {
			t.Fatalf("QUERY %d: HTTP %d %s, want too_large naming the limit of %d bytes", i+1, status, body, limit)
		}
		refused++
		now := w.stored(p.Session)
		if frozen == nil {
			frozen = now
			sellerBytes, _ = w.node.SessionBytes(p.Session)
			t.Logf("refused at QUERY %d: %s", i+1, eb.Error.Message)
		}
		if !bytes.Equal(now, frozen) {
			t.Fatalf("QUERY %d was refused but the stored session changed", i+1)
		}
	}
	if refused == 0 || witnessed == 0 {
		t.Fatalf("%d QUERYs witnessed, %d refused: the limit was never reached", witnessed, refused)
	}
	if got, _ := w.node.SessionBytes(p.Session); got != sellerBytes {
		t.Fatalf("the seller's session grew from %d to %d bytes after the registry refused", sellerBytes, got)
	}

	var rec struct {
		Transcript anp.Transcript `json:"transcript"`
	}
	if err := json.Unmarshal(frozen, &rec); err != nil {
		t.Fatal(err)
	}
	envs := rec.Transcript.Envelopes
	if len(envs) != len(p.Tr.Envelopes) || rec.Transcript.Head != p.Tr.Head {
		t.Fatalf("stored %d envelopes with head %s, the buyer holds %d with head %s", len(envs), rec.Transcript.Head, len(p.Tr.Envelopes), p.Tr.Head)
	}
	if head, err := anp.VerifyChain(envs); err != nil || head != p.Tr.Head {
		t.Fatalf("the stored transcript does not verify: head %s, %v", head, err)
	}
	for _, env := range envs {
		if c, err := anp.Canonical(json.RawMessage(env.Body)); err != nil || !bytes.Equal(c, env.Body) {
			t.Fatalf("%s seq %d is stored with body %s, not in canonical form", env.Type, env.Seq, env.Body)
		}
	}
	compact := compactBytes(t, envs)
	if len(frozen) > limit || len(frozen) > compact+1024 {
		t.Fatalf("stored record %d bytes: want at most the limit %d and the compact envelopes %d + 1 KiB", len(frozen), limit, compact)
	}
	t.Logf("%d padded QUERYs, %d bytes on the wire; %d witnessed (%d wire bytes), %d refused; stored record %d bytes for %d envelopes of %d compact bytes; limit %d",
		queries, wireAll, witnessed, wireWitnessed, refused, len(frozen), len(envs), compact, limit)
}

// otherBuyerDeal has another buyer open a session at the seller's list
// price, commit and notarise the deal, and verifies the artifact.
func otherBuyerDeal(t *testing.T, w *witnessNet) {
	t.Helper()
	c := w.client(anptest.NewKey(t))
	p := w.party()
	offer := anptest.USD(10000)
	proposal := anp.ProposeBody{Mode: anp.ModeC, Item: "Dutch oven", Quantity: 1, Currency: "USD", Offer: &offer}
	accept := must(p, c, p.Seal(anp.TypePropose, proposal))
	if accept.Type != anp.TypeAccept {
		t.Fatalf("PROPOSE at the list price answered %s, want ACCEPT", accept.Type)
	}
	a := anptest.SignDeal(t, p.Terms(accept, proposal, p.Peer), p.Key, nil)
	confirm := must(p, c, p.Seal(anp.TypeCommit, anp.CommitBody{Artifact: a}))
	a.SellerSig = anptest.Body[anp.ConfirmBody](t, confirm).SellerSig
	notarised, err := c.Notarize(context.Background(), a)
	if err != nil {
		t.Fatalf("Notarize: %v", err)
	}
	if err := anp.VerifyArtifact(notarised, anp.VerifyOptions{RootKey: w.root}); err != nil {
		t.Fatalf("the other buyer's artifact does not verify: %v", err)
	}
}
