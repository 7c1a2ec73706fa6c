package buyer

import (
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// FuzzCheckQuestion: any text either is refused or comes back cleaned,
// within MaxQuestionLen, naming neither the budget nor an amount of money.
func FuzzCheckQuestion(f *testing.F) {
	for _, s := range []string{"Is it new?", "What warranty comes with it?", "Would you take $93.17?", "ninety-three dollars",
		"93 17", "Is 80 USD ok?", "budget", "€5", "", " \u00a0 ", "9317 cents", "Does it have 2 ports?"} {
		f.Add(s, int64(9317))
	}
	f.Fuzz(func(t *testing.T, q string, amount int64) {
		budget := anp.Money{Amount: max(1, amount%1_000_000_000), Currency: "USD"}
		got, err := checkQuestion(q, budget)
		if err != nil {
			return
		}
		if got == "" || len(got) > MaxQuestionLen || got != strings.TrimSpace(got) {
			t.Fatalf("accepted %q as %q", q, got)
		}
		if namesAmount(got, budget) || mentionsMoney(got) || mentionsBudget(got) {
			t.Fatalf("accepted %q, which carries an amount or the budget", got)
		}
	})
}
