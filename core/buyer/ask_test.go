package buyer_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// demoSeller is the spec of one default demo seller.
func demoSeller(t *testing.T, domain string) demomarket.SellerSpec {
	t.Helper()
	for _, s := range demomarket.DefaultSellers() {
		if s.Domain == domain {
			return s
		}
	}
	t.Fatalf("no demo seller %s", domain)
	return demomarket.SellerSpec{}
}

// TestAskSeller: a question is a QUERY, the seller answers from its
// attributes in an INFORM, both are in the transcript, and neither the
// turn nor the prices move.
func TestAskSeller(t *testing.T) {
	m := startMarket(t, []demomarket.SellerSpec{demoSeller(t, "kitchen-outlet.anp")})
	c := newCore(t, m, coreOpts{})
	ctx := ctxT(t)
	s, err := c.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Ninja Blender", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Ask(ctx, s.ID, "What warranty does it come with, and how fast is delivery?")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "2 years") || !strings.Contains(a.Text, "3 to 5 days") || a.Asked != 1 {
		t.Fatalf("answer %+v", a)
	}
	if a.Session.Turn != s.Turn || *a.Session.LastSellerPrice != *s.LastSellerPrice || a.Session.State != buyer.StateCountered {
		t.Fatalf("a question moved the session: %+v", a.Session)
	}
	tr, err := c.Transcript(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	q, inf := tr[len(tr)-2], tr[len(tr)-1]
	if q.Type != anp.TypeQuery || inf.Type != anp.TypeInform {
		t.Fatalf("transcript ends %s, %s", q.Type, inf.Type)
	}
	if _, err := c.Counter(ctx, s.ID, anptest.USD(8000), ""); err != nil {
		t.Fatalf("a counter after a question: %v", err)
	}
}

// TestAskSellerRefusals: a question that carries a price or the budget,
// one past the limit, and one while the seller is deciding are refused
// with named errors, and nothing is sent.
func TestAskSellerRefusals(t *testing.T) {
	m := startMarket(t, []demomarket.SellerSpec{demoSeller(t, "kitchen-outlet.anp")})
	c := newCore(t, m, coreOpts{})
	ctx := ctxT(t)
	s, err := c.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Ninja Blender", MaxBudget: anptest.USD(9317)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    string
		want error
	}{
		{"Would you ship it for 93.17?", buyer.ErrQuestionPrice},
		{"Is ninety-three dollars and seventeen cents enough?", buyer.ErrQuestionPrice},
		{"Does it fit a budget like mine?", buyer.ErrQuestionPrice},
		{"Is delivery free for $80?", buyer.ErrQuestionPrice},
		{"Would 80 USD include delivery?", buyer.ErrQuestionPrice},
		{"   ", buyer.ErrInvalidInput},
		{strings.Repeat("Is it new? ", 40), buyer.ErrInvalidInput},
	} {
		if _, err := c.Ask(ctx, s.ID, tc.q); !errors.Is(err, tc.want) {
			t.Errorf("Ask(%.40q) = %v, want %v", tc.q, err, tc.want)
		}
	}
	tr, _ := c.Transcript(ctx, s.ID)
	if len(tr) != 2 {
		t.Fatalf("refused questions were sent: the transcript holds %d envelopes", len(tr))
	}
	for i := range buyer.MaxQuestions {
		if _, err := c.Ask(ctx, s.ID, "Is it new?"); err != nil {
			t.Fatalf("question %d: %v", i+1, err)
		}
	}
	if _, err := c.Ask(ctx, s.ID, "Is it new?"); !errors.Is(err, buyer.ErrQuestionLimit) {
		t.Fatalf("question %d: %v, want ErrQuestionLimit", buyer.MaxQuestions+1, err)
	}
	if tr, _ = c.Transcript(ctx, s.ID); len(tr) != 2+2*buyer.MaxQuestions {
		t.Fatalf("transcript holds %d envelopes, want %d", len(tr), 2+2*buyer.MaxQuestions)
	}
}

// TestAskWhileTheSellerDecides: no question while a counter is unanswered.
func TestAskWhileTheSellerDecides(t *testing.T) {
	m, _ := releasedMarket(t)
	c := newCore(t, m, coreOpts{})
	s := pendingCounter(t, c)
	if _, err := c.Ask(ctxT(t), s.ID, "Is it new?"); !errors.Is(err, buyer.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
}
