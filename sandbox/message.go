package sandbox

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// cleanMessage puts a model's message into shape for a seller: valid UTF-8,
// every run of spaces and control characters one space, at most
// MaxReplyMessage characters, and a neutral sentence instead when nothing is
// left. Budget privacy is not its job: the engine checks every buyer text it
// sends to a seller (see buyer.Core.Counter).
func cleanMessage(d buyer.Decision) string {
	msg := strings.ToValidUTF8(d.Message, "")
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(msg); len(r) > MaxReplyMessage {
		msg = strings.TrimRight(string(r[:MaxReplyMessage]), " ")
	}
	if msg == "" {
		return defaultMessage(d)
	}
	return msg
}

// defaultMessage is the neutral sentence for a decision.
func defaultMessage(d buyer.Decision) string {
	switch d.Action {
	case buyer.ActionCounter:
		return fmt.Sprintf("We can offer %s.", d.Price)
	case buyer.ActionAccept:
		return "We accept your price."
	}
	return "We will not continue this negotiation."
}
