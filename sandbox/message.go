package sandbox

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// cleanMessage makes a model's message fit to send to the seller: valid
// UTF-8, control characters turned into spaces, spaces collapsed, at most
// MaxReplyMessage characters, and a neutral sentence instead when it is empty
// or names the budget (the budget never leaves the buyer, not even through
// the model's words). It reports why it replaced the message, if it did.
func cleanMessage(d buyer.Decision, s buyer.Session) (string, string) {
	msg := strings.ToValidUTF8(d.Message, "")
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(msg); len(r) > MaxReplyMessage {
		msg = string(r[:MaxReplyMessage])
	}
	switch {
	case msg == "":
		return defaultMessage(d), ""
	case mentionsBudget(msg, d, s):
		return defaultMessage(d), "message replaced: it named the budget"
	}
	return msg, ""
}

// mentionsBudget reports whether msg contains the budget as a number (85,
// 85.00, 1,085.50) that is neither the price being offered nor the seller's.
func mentionsBudget(msg string, d buyer.Decision, s buyer.Session) bool {
	b := s.MaxBudget
	if (d.Action == buyer.ActionCounter && d.Price == b) || (s.LastSellerPrice != nil && *s.LastSellerPrice == b) {
		return false
	}
	for _, tok := range numberTokens(msg) {
		if m, err := anp.ParseMoney(tok, b.Currency); err == nil && m.Amount == b.Amount {
			return true
		}
	}
	return false
}

// numberTokens returns the decimal numbers in s with thousands separators
// removed and a trailing dot dropped ("1,085.50." => "1085.50").
func numberTokens(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		t := strings.TrimRight(cur.String(), ".,")
		if t != "" {
			out = append(out, strings.ReplaceAll(t, ",", ""))
		}
		cur.Reset()
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			cur.WriteRune(r)
		case (r == '.' || r == ',') && cur.Len() > 0:
			cur.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return out
}

func defaultMessage(d buyer.Decision) string {
	switch d.Action {
	case buyer.ActionCounter:
		return fmt.Sprintf("We can offer %s.", d.Price)
	case buyer.ActionAccept:
		return "We accept your price."
	}
	return "We will not continue this negotiation."
}
