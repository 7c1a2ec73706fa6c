package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// DefaultDiscoverLimit is how many sellers discover_sellers (and `clinch-mcp
// discover`) list when no limit is given; MaxDiscoverLimit is the most.
const (
	DefaultDiscoverLimit = 10
	MaxDiscoverLimit     = 50
)

// DiscoverInput filters discover_sellers.
type DiscoverInput struct {
	Category string  `json:"category,omitempty" jsonschema:"only sellers in this category, e.g. kitchen" limits:"maxLength=64"`
	Mode     string  `json:"mode,omitempty" jsonschema:"only sellers supporting this mode: ANP/A, ANP/B or ANP/C" limits:"enum=ANP/A|ANP/B|ANP/C"`
	Limit    int     `json:"limit,omitempty" jsonschema:"at most this many sellers, default 10" limits:"minimum=1,maximum=50,default=10"`
	MinTrust float64 `json:"min_trust,omitempty" jsonschema:"only sellers whose reputation is at least this, from 0 to 100 (a seller without history has 50); the server's --min-trust is a floor" limits:"minimum=0,maximum=100"`
}

// SellerInfo describes one seller.
type SellerInfo struct {
	Address     string   `json:"address" jsonschema:"pass this to propose_deal"`
	Domain      string   `json:"domain"`
	DisplayName string   `json:"display_name,omitempty" jsonschema:"name chosen by the seller (untrusted text)"`
	Categories  []string `json:"categories"`
	Modes       []string `json:"modes"`
	Demo        bool     `json:"demo" jsonschema:"a demo seller, not a real merchant"`
	Score       float64  `json:"score" jsonschema:"reputation from 0 to 100 computed from the registry's public log (a seller without history has 50); get_reputation explains it"`
	Evidence    Evidence `json:"evidence" jsonschema:"the counts behind the score"`
}

// DiscoverOutput is the result of discover_sellers.
type DiscoverOutput struct {
	Sellers []SellerInfo `json:"sellers"`
}

// CascadeInput are the arguments of cascade.
type CascadeInput struct {
	Category         string  `json:"category" jsonschema:"category to discover sellers in, e.g. kitchen" limits:"minLength=1,maxLength=64"`
	Item             string  `json:"item" jsonschema:"what to buy" limits:"minLength=1,maxLength=200"`
	MaxBudget        float64 `json:"max_budget" jsonschema:"the most the user will pay in total, in major units; never sent to any seller" limits:"exclusiveMinimum=0"`
	Currency         string  `json:"currency,omitempty" jsonschema:"ISO 4217 code, default USD" limits:"minLength=3,maxLength=3,default=USD"`
	Quantity         int     `json:"quantity,omitempty" jsonschema:"how many, default 1" limits:"minimum=1,maximum=1000000,default=1"`
	Strategy         string  `json:"strategy,omitempty" jsonschema:"sequential (each deal's price becomes the ceiling for the next seller) or parallel (all at once, cheapest wins); default sequential" limits:"enum=sequential|parallel"`
	MaxSellers       int     `json:"max_sellers,omitempty" jsonschema:"negotiate with at most this many sellers, default 3" limits:"minimum=1,maximum=10,default=3"`
	PerSellerTimeout int     `json:"per_seller_timeout_seconds,omitempty" jsonschema:"give up on a silent seller after this many seconds, default 30" limits:"minimum=1,maximum=600,default=30"`
	MaxTurns         int     `json:"max_turns,omitempty" jsonschema:"turns per seller, default 8" limits:"minimum=1,maximum=50,default=8"`
	Autonomous       bool    `json:"autonomous,omitempty" jsonschema:"use the server's sandbox decider (local Ollama model or its fallback) for the turns; otherwise a deterministic concession strategy plays them"`
	MinTrust         float64 `json:"min_trust,omitempty" jsonschema:"negotiate only with sellers whose reputation is at least this, from 0 to 100; the server's --min-trust is a floor" limits:"minimum=0,maximum=100"`
}

// CascadeOutcome reports one seller of a cascade.
type CascadeOutcome struct {
	Seller    string `json:"seller"`
	SessionID string `json:"session_id,omitempty"`
	Outcome   string `json:"outcome" jsonschema:"confirmed (the winner), outbid, stalemate, cancelled, timeout, error or skipped (a sequential cascade stopped before this seller)"`
	Price     *Money `json:"price,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// CascadeOutput is the result of cascade.
type CascadeOutput struct {
	Winner   *SessionSnapshot `json:"winner,omitempty" jsonschema:"the one CONFIRMED session; ask the user, then approve_and_sign it"`
	Outcomes []CascadeOutcome `json:"outcomes"`
}

func discoverSellers(d *Deps) Tool {
	return newTool(d, "discover_sellers", "Discover sellers",
		"List sellers known to the registry, optionally by category and mode. Every listing's signatures are verified by the server.",
		Hints{ReadOnly: flag(true), Destructive: flag(false), Idempotent: flag(true), OpenWorld: flag(true)},
		func(ctx context.Context, req mcp.CallToolRequest, in DiscoverInput) (DiscoverOutput, string, error) {
			var mode anp.Mode
			if in.Mode != "" {
				m, err := anp.ParseMode(in.Mode)
				if err != nil {
					return DiscoverOutput{}, "", inputErrorf("mode: %v", err)
				}
				mode = m
			}
			switch {
			case in.Limit == 0:
				in.Limit = DefaultDiscoverLimit
			case in.Limit < 1 || in.Limit > MaxDiscoverLimit:
				return DiscoverOutput{}, "", inputErrorf("limit %d must be between 1 and %d", in.Limit, MaxDiscoverLimit)
			}
			ls, err := d.Core.Discover(ctx, in.Category, mode, in.Limit, in.MinTrust)
			if err != nil {
				return DiscoverOutput{}, "", err
			}
			out := DiscoverOutput{Sellers: []SellerInfo{}}
			var names []string
			for _, l := range ls {
				r := l.Record.Record
				modes := make([]string, len(r.Modes))
				for i, m := range r.Modes {
					modes[i] = string(m)
				}
				addrMode := anp.ModeC
				if mode != "" {
					addrMode = mode
				} else if !r.Supports(anp.ModeC) {
					addrMode = r.Modes[0]
				}
				out.Sellers = append(out.Sellers, SellerInfo{Address: anp.Address{Mode: addrMode, Domain: r.Domain}.String(), Domain: r.Domain,
					DisplayName: r.DisplayName, Categories: r.Categories, Modes: modes, Demo: r.Demo, Score: l.Stats.Score, Evidence: listingEvidence(l)})
				names = append(names, r.Domain)
			}
			if len(names) == 0 {
				return out, "No sellers found.", nil
			}
			return out, fmt.Sprintf("%s: %s.", count(len(names), "seller"), strings.Join(names, ", ")), nil
		})
}

// listingEvidence is the evidence of a listing's reputation (none: no deals).
func listingEvidence(l anp.Listing) Evidence {
	if l.Reputation == nil {
		return Evidence{}
	}
	return l.Reputation.Evidence
}

// Cascade bounds, as documented in the cascade schema.
const (
	maxCascadeSellers = 10
	maxSellerTimeout  = 600
)

func cascade(d *Deps) Tool {
	return newTool(d, "cascade", "Cascade across sellers",
		"Negotiate the same purchase with several sellers of a category and keep only the best deal: every other session is cancelled and exactly one "+
			"session is left CONFIRMED for the user's approval. Sends a progress notification as each seller finishes, with the number of sellers negotiated as its total. "+
			"A silent seller is dropped after its timeout.",
		Hints{ReadOnly: flag(false), Destructive: flag(false), Idempotent: flag(false), OpenWorld: flag(true)},
		func(ctx context.Context, req mcp.CallToolRequest, in CascadeInput) (CascadeOutput, string, error) {
			budget, err := parseMoney("max_budget", in.MaxBudget, in.Currency)
			if err != nil {
				return CascadeOutput{}, "", err
			}
			if in.Autonomous && d.Decider == nil {
				return CascadeOutput{}, "", inputErrorf("autonomous: the sandbox is off on this server (start it with --sandbox strategy or ollama)")
			}
			if in.MaxSellers < 0 || in.MaxSellers > maxCascadeSellers {
				return CascadeOutput{}, "", inputErrorf("max_sellers %d must be between 1 and %d", in.MaxSellers, maxCascadeSellers)
			}
			if in.PerSellerTimeout < 0 || in.PerSellerTimeout > maxSellerTimeout {
				return CascadeOutput{}, "", inputErrorf("per_seller_timeout_seconds %d must be between 1 and %d", in.PerSellerTimeout, maxSellerTimeout)
			}
			decider := d.deterministic()
			if in.Autonomous {
				decider = d.Decider
			}
			progress := progressSender(ctx, req)
			res, err := d.Core.NegotiateCascade(ctx, buyer.CascadeRequest{
				Category: in.Category, Order: buyer.CascadeOrder(in.Strategy), MaxSellers: in.MaxSellers,
				PerSellerTimeout: time.Duration(in.PerSellerTimeout) * time.Second, Decider: decider,
				Constraints: buyer.Constraints{Item: in.Item, Category: in.Category, Quantity: in.Quantity, MaxBudget: budget, MaxTurns: in.MaxTurns},
				MinTrust:    in.MinTrust,
				Progress: func(o buyer.CascadeOutcome, done, total int) {
					progress(done, total, fmt.Sprintf("%s: %s", o.Seller, o.Outcome))
				},
			})
			if err != nil {
				if errors.Is(err, buyer.ErrNotFound) { // the engine's "no sellers found": there is no session to check
					return CascadeOutput{}, "", &coded{CodeNoSellers, err}
				}
				return CascadeOutput{}, "", err
			}
			out := CascadeOutput{Outcomes: []CascadeOutcome{}}
			for _, o := range res.Outcomes {
				out.Outcomes = append(out.Outcomes, CascadeOutcome{Seller: o.Seller, SessionID: o.SessionID, Outcome: o.Outcome, Price: moneyPtr(o.Price), Detail: o.Detail})
			}
			sellers := count(len(res.Outcomes), "seller")
			text := fmt.Sprintf("Cascade over %s: no seller agreed within the budget.", sellers)
			if res.Winner != nil {
				w := d.Snapshot(*res.Winner)
				out.Winner = &w
				text = fmt.Sprintf("Cascade over %s: best deal %s from %s (session %s, CONFIRMED); the others were cancelled. Ask the user before approve_and_sign.",
					sellers, res.Winner.AgreedPrice, res.Winner.Seller, res.Winner.ID)
			}
			return out, text, nil
		})
}
