package buyer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// registryProcess is one run of a registry on a fixed address over a ledger
// that outlives it, like a daemon restarted on the same database.
type registryProcess struct {
	srv  *registry.Server
	http *http.Server
	done chan struct{}
}

func startRegistry(t *testing.T, addr string, root ed25519.PrivateKey, ledger *memstore.Ledger, nonces *memstore.Nonces) *registryProcess {
	t.Helper()
	srv, err := registry.New(context.Background(), registry.Config{Root: root, Ledger: ledger, Nonces: nonces, Difficulty: 4,
		OpenEnrollment: true, AllowPrivateEndpoints: true, RedeliveryInterval: 100 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; i < 50; i++ { // the old listener's port may take a moment to free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := &registryProcess{srv: srv, http: srv.NewHTTPServer(addr), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if err := p.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("registry serve: %v", err)
		}
	}()
	return p
}

func (p *registryProcess) stop() {
	_ = p.http.Close()
	_ = p.srv.Close()
	<-p.done
}

// TestWebSocketSurvivesRegistryRestart: an asynchronous seller answers while
// the registry is down; the seller retries, the restarted registry (same
// ledger) queues the callback, the buyer reconnects and processes it once.
func TestWebSocketSurvivesRegistryRestart(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	ledger, nonces := memstore.NewLedger(), memstore.NewNonces()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	reg := startRegistry(t, addr, root, ledger, nonces)
	t.Cleanup(func() { reg.stop() })
	url := "http://" + addr

	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	pol := seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(8000), Exponent: 1, MaxTurns: 6}
	node, err := seller.NewNode(seller.Config{Domain: "slow-answers.anp", Identity: sk, Policy: &pol, Categories: []string{"kitchen"},
		Async: true, AsyncDelay: 400 * time.Millisecond, Registry: registry.NewClient(url, sk, registry.ClientOptions{}), Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	sln, _ := net.Listen("tcp", "127.0.0.1:0")
	shs := node.NewHTTPServer(sln.Addr().String())
	go shs.Serve(sln)
	t.Cleanup(func() { shs.Close() })
	ctx := ctxT(t)
	if _, err := node.Register(ctx, "http://"+sln.Addr().String(), ""); err != nil {
		t.Fatal(err)
	}

	c := newCore(t, &demomarket.Market{RegistryURL: url, RootKey: anp.PublicKeyHex(root.Public().(ed25519.PublicKey))}, coreOpts{})
	ev := watch(c)
	s, err := c.ProposeDeal(ctx, "ANP/C.slow-answers.anp", buyer.Constraints{Item: "Kettle", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c.Counter(ctx, s.ID, anptest.USD(6000), ""); err != nil || !s.AwaitingSeller {
		t.Fatalf("counter: %+v %v", s, err)
	}
	before := ev.n(buyer.EventCounterReceived)
	reg.stop() // the registry goes down before the seller answers
	time.Sleep(600 * time.Millisecond)
	if got, _ := c.GetSession(ctx, s.ID); !got.AwaitingSeller {
		t.Fatal("the answer arrived while the registry was down")
	}
	reg = startRegistry(t, addr, root, ledger, nonces)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	got, err := c.WaitForSeller(wctx, s.ID)
	if err != nil {
		t.Fatalf("answer never arrived after the restart: %v", err)
	}
	if got.State != buyer.StateCountered || got.LastSellerPrice == nil {
		t.Fatalf("after restart: %+v", got)
	}
	time.Sleep(500 * time.Millisecond) // several redelivery intervals
	if n := ev.n(buyer.EventCounterReceived) - before; n != 1 {
		t.Fatalf("callback processed %d times, want exactly once", n)
	}
	got, err = c.Negotiate(ctx, s.ID, concession.Default())
	if err != nil || got.State != buyer.StateConfirmed {
		t.Fatalf("negotiate after restart: %s %v", got.State, err)
	}
	art, err := c.ApproveAndSign(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyArtifact(art, anp.VerifyOptions{RootKey: anp.PublicKeyHex(root.Public().(ed25519.PublicKey))}); err != nil {
		t.Fatal(err)
	}
}
