package buyer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
)

// lossyRegistry delivers a chosen relay call and then loses its answer, as
// a timeout or a dropped connection after the registry acted would.
type lossyRegistry struct {
	*registry.Client
	loseType anp.MsgType
	lost     atomic.Int32
}

func (l *lossyRegistry) Relay(ctx context.Context, domain string, env *anp.Envelope) (*anp.RelayResponse, error) {
	resp, err := l.Client.Relay(ctx, domain, env)
	if err == nil && env.Type == l.loseType && l.lost.CompareAndSwap(0, 1) {
		return nil, anp.Errorf(anp.CodeUnavailable, "connection reset after the request was sent")
	}
	return resp, err
}

// TestLostAnswerIsRecoveredByResend: the registry and seller took a counter
// but its answer was lost. The session keeps the sealed envelope and the next
// move re-sends it byte for byte; the transcript never forks and the deal
// completes. The same for the COMMIT of an approval.
func TestLostAnswerIsRecoveredByResend(t *testing.T) {
	for _, lose := range []anp.MsgType{anp.TypeCounter, anp.TypeCommit} {
		t.Run(string(lose), func(t *testing.T) {
			m := startMarket(t, threeSellers())
			_, id, _ := ed25519.GenerateKey(rand.Reader)
			reg := &lossyRegistry{Client: registry.NewClient(m.RegistryURL, id, registry.ClientOptions{RootKey: m.RootKey,
				ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}), loseType: lose}
			c, err := buyer.New(buyer.Config{Identity: id, Registry: reg})
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			if err := c.Initialize(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			s, err := c.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Blender", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if lose == anp.TypeCounter {
				s, err = c.Counter(ctx, s.ID, anptest.USD(6000), "")
				if !errors.Is(err, buyer.ErrUnavailable) || s.Turn != 1 {
					t.Fatalf("lost answer: %v, turn %d", err, s.Turn)
				}
				// The next move re-sends the earlier one first and reports that the session moved on.
				if _, err = c.Counter(ctx, s.ID, anptest.USD(6500), ""); !errors.Is(err, buyer.ErrConflict) {
					t.Fatalf("move after a lost answer: %v, want ErrConflict", err)
				}
				got, _ := c.GetSession(ctx, s.ID)
				if got.Turn != 2 || got.LastOwnOffer == nil || *got.LastOwnOffer != anptest.USD(6000) || got.LastSellerPrice == nil {
					t.Fatalf("after the resend: %+v", got)
				}
				for _, p := range []int64{7000, 8000, 9400} {
					if s, err = c.Counter(ctx, s.ID, anptest.USD(p), ""); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				for _, p := range []int64{6000, 7000, 8000, 9400} {
					if s, err = c.Counter(ctx, s.ID, anptest.USD(p), ""); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := c.ApproveAndSign(ctx, s.ID); !errors.Is(err, buyer.ErrUnavailable) {
					t.Fatalf("approve with a lost answer: %v", err)
				}
			}
			if s.State != buyer.StateConfirmed && lose == anp.TypeCounter {
				t.Fatalf("state %s", s.State)
			}
			a, err := c.ApproveAndSign(ctx, s.ID)
			if err != nil {
				t.Fatalf("approve: %v", err)
			}
			if err := anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: m.RootKey}); err != nil {
				t.Fatal(err)
			}
			envs, _ := c.Transcript(ctx, s.ID)
			if _, err := anp.VerifyChain(envs); err != nil || len(envs) != 12 {
				t.Fatalf("transcript: %d envelopes, %v", len(envs), err)
			}
		})
	}
}
