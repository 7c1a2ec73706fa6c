package demomarket

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
)

// HistoryAge is how far back the seeded history starts.
const HistoryAge = 20 * 24 * time.Hour

// The demo sellers whose history is seeded, and how it went.
const (
	ReliableSeller = "kitchen-outlet.anp" // 4 deals, all delivered on time, 2 receipts
	LateSeller     = "chef-supply.anp"    // 4 deals, 1 delivered on time, 3 late
	DisputedSeller = "bargain-bin.anp"    // 3 deals, 2 delivered on time, 1 dispute lost
)

// marketClock is the clock of the market: Options.Now (default time.Now),
// and with a history HistoryAge behind it while the history is played,
// moving forward as the history needs and catching up when it is logged.
type marketClock struct {
	base   func() time.Time // nil: time.Now
	mu     sync.Mutex
	offset time.Duration
}

func (c *marketClock) Now() time.Time {
	now := time.Now
	if c.base != nil {
		now = c.base
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return now().Add(c.offset)
}

func (c *marketClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = min(0, c.offset+d)
}

// seedHistory plays the seeded history through the market's own registry
// and sellers: a demo buyer negotiates and signs real deals, the sellers
// log their FULFILLs (some after the deadline), the buyer confirms some
// receipts and disputes one deal, which the registry's operator resolves
// for the buyer. Everything is signed and logged as in any market, so the
// reputations it leaves are the formula's (docs/reputation.md).
func (m *Market) seedHistory(ctx context.Context, opt Options) error {
	if m.Nodes[ReliableSeller] == nil || m.Nodes[LateSeller] == nil || m.Nodes[DisputedSeller] == nil {
		return fmt.Errorf("the history needs the sellers %s, %s and %s", ReliableSeller, LateSeller, DisputedSeller)
	}
	_, id, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	ceiling := usd(1000)
	core, err := buyer.New(buyer.Config{Identity: id, Logger: opt.Logger, Now: m.clock.Now, AutoApproveBelow: &ceiling,
		Registry: registry.NewClient(m.RegistryURL, id, registry.ClientOptions{RootKey: m.RootKey, Logger: opt.Logger, Now: m.clock.Now})})
	if err != nil {
		return err
	}
	defer core.Close()
	if err := core.Initialize(ctx); err != nil {
		return err
	}
	h := &history{m: m, core: core}
	reliable, late, disputed := h.deals(ctx, ReliableSeller, 4), h.deals(ctx, LateSeller, 4), h.deals(ctx, DisputedSeller, 3)
	h.fulfil(ctx, ReliableSeller, reliable...)
	h.fulfil(ctx, LateSeller, late[0])
	h.fulfil(ctx, DisputedSeller, disputed...)
	h.confirm(ctx, reliable[:2]...)
	h.disputeLost(ctx, disputed[2])
	m.clock.advance(anp.DefaultDeliveryWindow + time.Hour)
	h.fulfil(ctx, LateSeller, late[1:]...) // after deliver_by: late
	if h.err != nil {
		return fmt.Errorf("demo market: seed the history: %w", h.err)
	}
	return nil
}

// history plays the seeded deals; the first error stops it.
type history struct {
	m    *Market
	core *buyer.Core
	err  error
}

// deals signs n deals with domain and returns their sessions.
func (h *history) deals(ctx context.Context, domain string, n int) []string {
	var out []string
	for range n {
		if h.err != nil {
			return out
		}
		s, err := h.core.ProposeDeal(ctx, "ANP/C."+domain, buyer.Constraints{Item: "Cast iron pan", Category: "kitchen", Quantity: 1, MaxBudget: usd(200)}, buyer.ProposeOptions{})
		if err == nil {
			s, err = h.core.NegotiateAutonomously(ctx, s.ID, concession.Default())
		}
		if err == nil && s.State != buyer.StateSigned {
			err = fmt.Errorf("the deal with %s ended %s, not signed", domain, s.State)
		}
		h.err = err
		out = append(out, s.ID)
	}
	return out
}

// fulfil has domain's node log the FULFILL of sessions.
func (h *history) fulfil(ctx context.Context, domain string, sessions ...string) {
	for _, s := range sessions {
		if h.err == nil {
			_, h.err = h.m.Nodes[domain].Fulfil(ctx, s, "demo delivery "+s)
		}
	}
}

// confirm has the buyer confirm the receipt of sessions.
func (h *history) confirm(ctx context.Context, sessions ...string) {
	for _, s := range sessions {
		if h.err == nil {
			_, h.err = h.core.ConfirmDelivery(ctx, s)
		}
	}
}

// disputeLost has the buyer dispute session as not as described, and the
// registry's operator decide it for the buyer.
func (h *history) disputeLost(ctx context.Context, session string) {
	if h.err != nil {
		return
	}
	if _, h.err = h.core.OpenDispute(ctx, session, buyer.DisputeRequest{Reason: anp.ReasonNotAsDescribed, Severity: 3}); h.err != nil {
		return
	}
	_, h.err = h.m.Registry.Resolve(ctx, session, anp.OutcomeForBuyer, anp.Decider{Kind: anp.DecidedByPerson, ID: "demo-operator"})
}
