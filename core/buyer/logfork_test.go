package buyer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/registry/registrytest"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// startForkableMarket is a market whose registry can be made to show the
// buyer a forked log (sw.Set(twin)): a twin registry with the same root key
// and key chain but twinLeaves other log entries.
func startForkableMarket(t *testing.T, twinLeaves int) (*demomarket.Market, *registrytest.LogSwitch, *httptest.Server) {
	t.Helper()
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	ledger := memstore.NewLedger()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := demomarket.Start(ctx, demomarket.Options{Sellers: threeSellers(), Difficulty: 4, AsyncDelay: 20 * time.Millisecond,
		Logger: zerolog.Nop(), Root: root, Ledger: ledger})
	if err != nil {
		t.Fatalf("start market: %v", err)
	}
	t.Cleanup(m.Close)
	var leaves [][]byte
	for i := range twinLeaves {
		leaves = append(leaves, fmt.Appendf(nil, "a deal only the forked log has %d", i))
	}
	return m, &registrytest.LogSwitch{}, registrytest.Twin(t, root, ledger, leaves)
}

// confirmDeal proposes to kitchen-outlet and counters up to CONFIRMED.
func confirmDeal(t *testing.T, c *buyer.Core) buyer.Session {
	t.Helper()
	ctx := ctxT(t)
	s, err := c.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Ninja Blender", Category: "kitchen", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	for _, offer := range []int64{6000, 7000, 8000, 9400} {
		if s, err = c.Counter(ctx, s.ID, anptest.USD(offer), ""); err != nil {
			t.Fatalf("counter %d: %v", offer, err)
		}
	}
	if s.State != buyer.StateConfirmed {
		t.Fatalf("state %s, want CONFIRMED", s.State)
	}
	return s
}

// TestConsistentLogRaisesNoAlarm: over several deals the buyer's registry
// client checks every tree head (before each proposal and approval, and
// each receipt's) against the one before; an honest growing log never
// raises the alarm.
func TestConsistentLogRaisesNoAlarm(t *testing.T) {
	m, sw, _ := startForkableMarket(t, 0)
	c := newCore(t, m, coreOpts{transport: sw})
	for i := range 4 {
		s := confirmDeal(t, c)
		a, err := c.ApproveAndSign(ctxT(t), s.ID)
		if err != nil {
			t.Fatalf("deal %d: approve: %v", i+1, err)
		}
		if a.Receipt.TreeHead.Size != uint64(len(threeSellers())+i+1) { // after the sellers' bind events
			t.Fatalf("deal %d is in a log of size %d", i+1, a.Receipt.TreeHead.Size)
		}
	}
	if n := sw.Consistency(); n < 3 {
		t.Fatalf("%d consistency proofs were checked over 4 deals, want one per growth of the log", n)
	}
}

// TestForkedLogStopsNewDeals: after a deal, the registry shows the buyer a
// log that does not extend the one its receipt committed to. The buyer's
// next proposal is refused (ErrRefused, wrapping registry.ErrLogFork) with
// a message naming both tree heads, a deal already CONFIRMED is not signed
// and no COMMIT reaches the seller, and the refusal stays when the registry
// answers honestly again.
func TestForkedLogStopsNewDeals(t *testing.T) {
	m, sw, twin := startForkableMarket(t, 5)
	c := newCore(t, m, coreOpts{transport: sw})
	ctx := ctxT(t)
	first, err := c.ApproveAndSign(ctx, confirmDeal(t, c).ID)
	if err != nil {
		t.Fatalf("first deal: %v", err)
	}
	pending := confirmDeal(t, c)
	sw.Set(twin)

	_, err = c.ProposeDeal(ctx, "ANP/C.chef-supply.anp", buyer.Constraints{Item: "Ninja Blender", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if !errors.Is(err, buyer.ErrRefused) || !errors.Is(err, registry.ErrLogFork) {
		t.Fatalf("propose on a forked log: err = %v, want ErrRefused and ErrLogFork", err)
	}
	var fe *registry.ForkError
	if !errors.As(err, &fe) {
		t.Fatalf("no ForkError in %v", err)
	}
	remembered := first.Receipt.TreeHead
	if fe.Alarm.Remembered.RootHash != remembered.RootHash || fe.Alarm.Remembered.Size != uint64(len(threeSellers())+1) || fe.Alarm.Seen.Size != 5 {
		t.Fatalf("alarm = %+v, want the first deal's head (the sellers' bind events and the deal) against the forked head (size 5)", fe.Alarm)
	}
	for _, h := range []anp.SignedTreeHead{fe.Alarm.Remembered, fe.Alarm.Seen} {
		if !strings.Contains(err.Error(), registry.DescribeHead(&h)) {
			t.Errorf("error %q does not name head %s", err, registry.DescribeHead(&h))
		}
	}

	sw.Set(nil) // honest answers again: the alarm stays
	for name, call := range map[string]func() error{
		"approve": func() error { _, err := c.ApproveAndSign(ctx, pending.ID); return err },
		"propose": func() error {
			_, err := c.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Ninja Blender", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
			return err
		},
	} {
		if err := call(); !errors.Is(err, buyer.ErrRefused) || !errors.Is(err, registry.ErrLogFork) || !strings.Contains(err.Error(), remembered.RootHash) {
			t.Errorf("%s after the fork: err = %v, want ErrRefused naming the remembered head", name, err)
		}
	}
	s, err := c.GetSession(ctx, pending.ID)
	if err != nil || s.State != buyer.StateConfirmed || s.Artifact != nil {
		t.Fatalf("the confirmed session after a refused approval: %+v, %v; want CONFIRMED, unsigned", s, err)
	}
	envs, _ := c.Transcript(ctx, pending.ID)
	for _, e := range envs {
		if e.Type == anp.TypeCommit {
			t.Fatal("a COMMIT was sent on a forked log")
		}
	}
	sessions, _ := c.ListSessions(ctx)
	if len(sessions) != 2 {
		t.Errorf("%d sessions, want 2: a refused proposal stores nothing", len(sessions))
	}
}
