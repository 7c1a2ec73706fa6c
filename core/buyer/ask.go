package buyer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Questions without offers: the buyer asks the seller about the item or the
// terms (warranty, delivery, condition, returns…) in a QUERY, and the
// seller's policy answers in an INFORM. A question moves no price and no
// turn, so it may carry neither a price nor the budget.

// Limits of Ask.
const (
	// MaxQuestions is how many questions one session may ask its seller.
	MaxQuestions = 5
	// MaxQuestionLen bounds a question, in bytes after cleaning.
	MaxQuestionLen = 300
)

// Errors of Ask, each returned wrapped with the details.
var (
	// ErrQuestionLimit: the session already asked MaxQuestions questions.
	ErrQuestionLimit = errors.New("question limit reached")
	// ErrQuestionPrice: the question names the budget, an amount of money
	// or the word budget; prices travel only in offers.
	ErrQuestionPrice = errors.New("a question may not carry a price or the budget")
)

// Answer is the seller's answer to one question.
type Answer struct {
	Session  Session // after the answer
	Question string  // as sent, cleaned
	Text     string  // the seller's answer: untrusted text ("" when it has not come yet)
	Asked    int     // questions this session has asked, this one included
}

// Ask sends question to the seller of session id as a QUERY and returns the
// seller's INFORM answer. It is refused, with nothing sent, when the
// question is empty or too long (ErrInvalidInput), carries a price or the
// budget (ErrQuestionPrice), the session already asked MaxQuestions
// (ErrQuestionLimit), or the session is not waiting for the buyer's move
// (ErrBusy, ErrBadState). The QUERY and the answer are in the transcript.
func (c *Core) Ask(ctx context.Context, id, question string) (Answer, error) {
	unlock, r, err := c.beginMove(ctx, id)
	if err != nil {
		return Answer{}, err
	}
	defer unlock()
	if err := c.flushOutbox(ctx, r); err != nil {
		return Answer{}, err
	}
	q, err := checkQuestion(question, r.Session.MaxBudget)
	if err != nil {
		return Answer{}, fmt.Errorf("session %s: %w", id, err)
	}
	if err := r.guardQuestion(c.cfg); err != nil {
		return Answer{}, err
	}
	body := &anp.NoteBody{Reason: "question", Message: q}
	if err := body.Validate(); err != nil {
		return Answer{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	r.Session.QuestionsAsked++
	s, err := c.send(ctx, r, anp.TypeQuery, body)
	if err != nil {
		return Answer{}, err
	}
	a := Answer{Session: s, Question: q, Asked: s.QuestionsAsked}
	if last := r.Transcript.Last(); last != nil && last.From == r.SellerKey && last.Type == anp.TypeInform {
		var nb anp.NoteBody
		if err := last.DecodeBody(&nb); err == nil {
			a.Text = nb.Message
		}
	}
	c.log.Info().Str("session", id).Int("asked", a.Asked).Bool("answered", a.Text != "").Msg("question to the seller")
	return a, nil
}

// guardQuestion checks that the buyer may ask now: the session waits for
// the buyer's move (COUNTERED or CONFIRMED) and has questions left.
func (r *record) guardQuestion(cfg Config) error {
	s := &r.Session
	if !s.State.Terminal() && !cfg.Now().Before(s.Deadline) {
		return fmt.Errorf("session %s: %w: the session deadline passed", s.ID, ErrBadState)
	}
	if s.State.Terminal() {
		return fmt.Errorf("session %s: %w: the session is %s", s.ID, ErrBadState, s.State)
	}
	if s.AwaitingSeller || s.State == StateProposed || s.State == StateEscalated {
		return fmt.Errorf("session %s: %w: waiting for the seller's answer", s.ID, ErrBusy)
	}
	if s.QuestionsAsked >= MaxQuestions {
		return fmt.Errorf("session %s: %w: it asked its %d questions already", s.ID, ErrQuestionLimit, MaxQuestions)
	}
	return nil
}

// checkQuestion cleans a question and refuses one that is empty, too long
// or carries a price or the budget.
func checkQuestion(question string, budget anp.Money) (string, error) {
	q := strings.TrimSpace(anp.CleanText(question, 4*MaxQuestionLen))
	switch {
	case q == "":
		return "", fmt.Errorf("%w: question is empty; ask about the item or the terms", ErrInvalidInput)
	case len(q) > MaxQuestionLen:
		return "", fmt.Errorf("%w: question is %d bytes, at most %d", ErrInvalidInput, len(q), MaxQuestionLen)
	case namesAmount(q, budget):
		return "", fmt.Errorf("%w: it names an amount equal to the budget; leave amounts out", ErrQuestionPrice)
	case mentionsBudget(q):
		return "", fmt.Errorf("%w: it speaks of a budget; leave the budget out", ErrQuestionPrice)
	case mentionsMoney(q):
		return "", fmt.Errorf("%w: it names an amount of money; make offers with counter instead", ErrQuestionPrice)
	}
	return q, nil
}

// CheckQuestion is checkQuestion for callers that check before they ask
// (the tools layer, fuzzing): the cleaned question or why it is refused.
func CheckQuestion(question string, budget anp.Money) (string, error) {
	return checkQuestion(question, budget)
}

// mentionsBudget reports whether text uses the word budget or a word for
// what the buyer can afford.
func mentionsBudget(text string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		switch w {
		case "budget", "budgets", "afford", "affordable", "maximum", "max":
			return true
		}
	}
	return false
}

// currencyWords are words that make a number next to them an amount of money.
var currencyWords = map[string]bool{
	"dollar": true, "dollars": true, "buck": true, "bucks": true, "euro": true, "euros": true, "pound": true,
	"pounds": true, "yen": true, "cent": true, "cents": true, "pence": true, "quid": true,
	// The ISO 4217 codes people write most; a rarer code that is also an
	// English word (ALL, CUP, TOP) would refuse innocent questions.
	"usd": true, "eur": true, "gbp": true, "jpy": true, "chf": true, "cad": true, "aud": true, "cny": true, "inr": true,
}

// mentionsMoney reports whether text has a number next to a currency sign,
// an ISO 4217 code or a currency word ("$80", "80 USD", "eighty dollars").
func mentionsMoney(text string) bool {
	lower := strings.ToLower(text)
	if strings.ContainsAny(lower, "$€£¥₹¢") && strings.ContainsAny(lower, "0123456789") {
		return true
	}
	toks := tokens(lower)
	for i, t := range toks {
		if !isNumberWord(t) {
			continue
		}
		for _, j := range []int{i - 1, i + 1} {
			if j >= 0 && j < len(toks) && isCurrencyWord(toks[j]) {
				return true
			}
		}
	}
	return false
}

// tokens splits lower-case text into runs of letters and runs of digits
// (with their separators).
func tokens(text string) []string {
	var out []string
	cur := strings.Builder{}
	kind := 0 // 1 letters, 2 digits
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
		kind = 0
	}
	for _, r := range text {
		k := 0
		switch {
		case unicode.IsLetter(r):
			k = 1
		case r >= '0' && r <= '9', kind == 2 && (r == '.' || r == ','):
			k = 2
		}
		if k == 0 || k != kind {
			flush()
		}
		if k != 0 {
			cur.WriteRune(r)
			kind = k
		}
	}
	flush()
	return out
}

func isNumberWord(t string) bool {
	if t == "" {
		return false
	}
	if t[0] >= '0' && t[0] <= '9' {
		return true
	}
	_, small := smallNumbers[t]
	_, scale := scaleWords[t]
	return small || scale
}

func isCurrencyWord(t string) bool { return currencyWords[t] }
