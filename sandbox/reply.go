package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// MaxReplyMessage is the longest message (in characters) a model reply may
// carry, as the reply schema says.
const MaxReplyMessage = 300

// ReplySchema is the JSON Schema sent to Ollama as the chat format: the model
// can only produce an object with these three fields.
var ReplySchema = json.RawMessage(`{"type":"object","required":["action","price","message"],` +
	`"properties":{"action":{"type":"string","enum":["counter","accept","exit"]},` +
	`"price":{"type":"number","minimum":0},` +
	`"message":{"type":"string","maxLength":300}},` +
	`"additionalProperties":false}`)

// maxDip is how far below its previous offer (as a fraction of that offer)
// a model counter may land before it counts as nonsense. A smaller dip is a
// rounding slip that buyer.Guard lifts back to the previous offer.
const maxDip = 0.01

// wireReply is the model's reply as JSON. Pointers tell a missing field from
// a zero one.
type wireReply struct {
	Action  *string  `json:"action"`
	Price   *float64 `json:"price"`
	Message *string  `json:"message"`
}

// ParseReply reads a model's reply strictly and checks that it makes sense
// for the session. The reply must be exactly one JSON object with the fields
// action, price and message and nothing else, matching ReplySchema. Then:
//
//   - a counter needs a price above 0 (after rounding to the currency's
//     decimals: math.Round(x*100)/100 for USD), strictly below the seller's
//     price, and not more than 1% below the buyer's previous offer;
//   - the price of accept and exit is ignored (accept takes the seller's price).
//
// A counter above the budget is not an error here: buyer.Guard clamps it. The
// error text is built from fixed phrases and numbers only, never from the
// reply itself, so it can go back to the model safely.
func ParseReply(content string, s buyer.Session) (buyer.Decision, error) {
	w, err := decodeReply(content)
	if err != nil {
		return buyer.Decision{}, err
	}
	if err := w.checkValues(); err != nil {
		return buyer.Decision{}, err
	}
	d := buyer.Decision{Action: buyer.Action(*w.Action), Message: *w.Message}
	switch d.Action {
	case buyer.ActionAccept:
		if s.LastSellerPrice != nil {
			d.Price = *s.LastSellerPrice
		}
	case buyer.ActionExit:
	case buyer.ActionCounter:
		if d.Price, err = counterPrice(*w.Price, s); err != nil {
			return buyer.Decision{}, err
		}
	default:
		return buyer.Decision{}, errors.New("action must be one of counter, accept or exit")
	}
	return d, nil
}

// decodeReply reads content as exactly one JSON object holding all three
// fields action, price and message and nothing else.
func decodeReply(content string) (wireReply, error) {
	dec := json.NewDecoder(strings.NewReader(content))
	dec.DisallowUnknownFields()
	var w wireReply
	if err := dec.Decode(&w); err != nil {
		return wireReply{}, errors.New("the reply is not a JSON object with only the fields action, price and message")
	}
	if _, err := dec.Token(); err != io.EOF {
		return wireReply{}, errors.New("the reply has text after the JSON object")
	}
	if w.Action == nil || w.Price == nil || w.Message == nil {
		return wireReply{}, errors.New("the reply must have all three fields action, price and message")
	}
	return w, nil
}

// checkValues checks the bounds of ReplySchema a decoded reply can still
// break: a price that is a number of at least 0 and a message of at most
// MaxReplyMessage characters.
func (w wireReply) checkValues() error {
	if math.IsNaN(*w.Price) || math.IsInf(*w.Price, 0) || *w.Price < 0 {
		return errors.New("price must be a number of at least 0")
	}
	if utf8.RuneCountInString(*w.Message) > MaxReplyMessage {
		return fmt.Errorf("message is longer than %d characters", MaxReplyMessage)
	}
	return nil
}

// counterPrice is the price of a counter at major-unit price in session s:
// above 0 after rounding to the currency's decimals, strictly below the
// seller's price, and not more than maxDip below the buyer's previous offer.
func counterPrice(price float64, s buyer.Session) (anp.Money, error) {
	cur := s.MaxBudget.Currency
	p, err := majorToMoney(price, cur)
	if err != nil || p.Amount <= 0 {
		return anp.Money{}, fmt.Errorf("a counter needs a price above 0 in %s", cur)
	}
	if s.LastSellerPrice != nil && p.Amount >= s.LastSellerPrice.Amount {
		return anp.Money{}, fmt.Errorf("the counter of %s is not below the seller's price of %s: choose accept, or counter lower", p, s.LastSellerPrice)
	}
	if s.LastOwnOffer != nil && float64(s.LastOwnOffer.Amount-p.Amount) > maxDip*float64(s.LastOwnOffer.Amount) {
		return anp.Money{}, fmt.Errorf("the counter of %s is below your previous offer of %s: offers never go down", p, s.LastOwnOffer)
	}
	return p, nil
}

// majorToMoney converts a model's major-unit price into minor units: the
// float is first rounded to the currency's decimals (math.Round(x*100)/100 for
// USD), then converted exactly by anp.FromMajor.
func majorToMoney(v float64, cur string) (anp.Money, error) {
	scale, err := anp.CurrencyScale(cur)
	if err != nil {
		return anp.Money{}, err
	}
	f := math.Pow10(scale)
	return anp.FromMajor(math.Round(v*f)/f, cur)
}
