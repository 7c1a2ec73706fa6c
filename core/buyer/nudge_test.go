package buyer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

// droppingRegistry loses every callback the seller posts.
type droppingRegistry struct {
	*registry.Client
	dropped atomic.Int32
}

func (d *droppingRegistry) PostCallback(context.Context, *anp.Envelope) error {
	d.dropped.Add(1)
	return nil
}

// TestLostCallbackIsRecoveredByNudge: the asynchronous seller's answer never
// reaches the registry; a waiting buyer re-asks with its identical last
// envelope and gets the seller's earlier answer, once.
func TestLostCallbackIsRecoveredByNudge(t *testing.T) {
	m := startMarket(t, threeSellers())
	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	reg := &droppingRegistry{Client: registry.NewClient(m.RegistryURL, sk, registry.ClientOptions{})}
	pol := seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(8000), Exponent: 1, MaxTurns: 6}
	node, err := seller.NewNode(seller.Config{Domain: "lossy-callbacks.anp", Identity: sk, Policy: &pol, Categories: []string{"kitchen"},
		Async: true, Registry: reg, Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	hs := node.NewHTTPServer("")
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	ctx := ctxT(t)
	grant, err := m.Grant("lossy-callbacks.anp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Register(ctx, "http://"+ln.Addr().String(), grant); err != nil {
		t.Fatal(err)
	}
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	c, err := buyer.New(buyer.Config{Identity: id, NudgeAfter: 100 * time.Millisecond,
		Registry: registry.NewClient(m.RegistryURL, id, registry.ClientOptions{RootKey: m.RootKey})})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ev := watch(c)
	s, err := c.ProposeDeal(ctx, "ANP/C.lossy-callbacks.anp", buyer.Constraints{Item: "Wok", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c.Counter(ctx, s.ID, anptest.USD(6000), ""); err != nil || !s.AwaitingSeller {
		t.Fatalf("counter: %+v %v", s, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err = c.WaitForSeller(wctx, s.ID)
	if err != nil {
		t.Fatalf("the lost answer was never recovered: %v", err)
	}
	if reg.dropped.Load() == 0 {
		t.Fatal("no callback was dropped: the test proves nothing")
	}
	if s.State != buyer.StateCountered || s.LastSellerPrice == nil || s.TranscriptLen != 4 {
		t.Fatalf("after the nudge: %+v", s)
	}
	if n := ev.n(buyer.EventCounterReceived); n != 2 {
		t.Fatalf("counter_received %d times, want 2 (opening + recovered answer)", n)
	}
}
