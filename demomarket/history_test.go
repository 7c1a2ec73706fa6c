package demomarket_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// TestHistoryMakesReputationsDiffer: a market started with its history
// lists the three kitchen sellers with different reputations on the first
// discovery — the reliable one first, above a newcomer's 50, the often
// late one and the one with a lost dispute below — and the evidence says why.
func TestHistoryMakesReputationsDiffer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	m, err := demomarket.Start(ctx, demomarket.Options{Difficulty: 4, AsyncDelay: 10 * time.Millisecond, Logger: zerolog.Nop(), History: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	c := registry.NewClient(m.RegistryURL, id, registry.ClientOptions{RootKey: m.RootKey, Logger: zerolog.Nop()})
	ls, err := c.Discover(ctx, "kitchen", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	score := map[string]float64{}
	for _, l := range ls {
		order = append(order, l.Binding.Domain)
		score[l.Binding.Domain] = l.Stats.Score
		t.Logf("%s: %.6f %+v", l.Binding.Domain, l.Stats.Score, *l.Reputation)
	}
	if len(order) != 3 || order[0] != demomarket.ReliableSeller || score[demomarket.ReliableSeller] <= 50 ||
		score[demomarket.LateSeller] >= 50 || score[demomarket.DisputedSeller] >= 50 || score[demomarket.LateSeller] == score[demomarket.DisputedSeller] {
		t.Fatalf("kitchen sellers %v with scores %v: want %s first above 50, the others below and apart", order, score, demomarket.ReliableSeller)
	}
	byDomain := map[string]int{}
	for i, l := range ls {
		byDomain[l.Binding.Domain] = i
	}
	rel, late, disp := ls[byDomain[demomarket.ReliableSeller]].Reputation.Evidence, ls[byDomain[demomarket.LateSeller]].Reputation.Evidence, ls[byDomain[demomarket.DisputedSeller]].Reputation.Evidence
	if rel.Deals != 4 || rel.OnTime != 4 || late.Deals != 4 || late.Late+late.Breaches < 3 || disp.DisputesLost != 1 || disp.OnTime != 3 {
		t.Fatalf("evidence: reliable %+v, late %+v, disputed %+v", rel, late, disp)
	}
	// The market runs on real time again.
	if h, err := c.LogHead(ctx); err != nil || time.Since(time.UnixMilli(h.Timestamp)).Abs() > time.Minute {
		t.Fatalf("log head %+v, %v: not dated now", h, err)
	}
}
