package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// ProposeDealInput are the arguments of propose_deal.
type ProposeDealInput struct {
	Seller       string            `json:"seller" jsonschema:"seller address like ANP/C.kitchen-outlet.anp (a bare domain means ANP/C); find sellers with discover_sellers" limits:"minLength=1,maxLength=300"`
	Item         string            `json:"item" jsonschema:"what to buy, as the user described it" limits:"minLength=1,maxLength=200"`
	MaxBudget    float64           `json:"max_budget" jsonschema:"the most the user will pay in total, in major units (e.g. 95 or 95.50); enforced by the server and never sent to the seller" limits:"exclusiveMinimum=0"`
	Currency     string            `json:"currency,omitempty" jsonschema:"ISO 4217 code, default USD" limits:"minLength=3,maxLength=3,default=USD"`
	Quantity     int               `json:"quantity,omitempty" jsonschema:"how many, default 1" limits:"minimum=1,maximum=1000000,default=1"`
	Category     string            `json:"category,omitempty" jsonschema:"item category, e.g. kitchen" limits:"maxLength=64"`
	Terms        map[string]string `json:"terms,omitempty" jsonschema:"non-secret terms to agree on, e.g. {\"delivery\": \"3 days\"}" limits:"maxProperties=16,keyMaxLength=64,valueMaxLength=200"`
	OpeningOffer float64           `json:"opening_offer,omitempty" jsonschema:"optional first offer in major units, at most max_budget" limits:"exclusiveMinimum=0"`
	MaxTurns     int               `json:"max_turns,omitempty" jsonschema:"give up after this many turns, default 8" limits:"minimum=1,maximum=50,default=8"`
	Autonomous   bool              `json:"autonomous,omitempty" jsonschema:"let the server's sandbox negotiate by itself until the seller confirms, then hand back for approval"`
	WaitSeconds  int               `json:"wait_seconds,omitempty" jsonschema:"how long to wait for an asynchronous seller's answer before returning, in seconds (default 15, at most 45; 0 returns at once); a session still waiting after that says so (awaiting_seller, allowed move wait)" limits:"minimum=0,maximum=45,default=15"`
}

// SessionInput names a session.
type SessionInput struct {
	SessionID string `json:"session_id" jsonschema:"the session id returned by propose_deal or cascade" limits:"minLength=32,maxLength=32"`
}

// CounterInput are the arguments of counter.
type CounterInput struct {
	SessionID   string  `json:"session_id" jsonschema:"the session id" limits:"minLength=32,maxLength=32"`
	Price       float64 `json:"price" jsonschema:"your offer in major units of the session currency; at most max_budget and never below your previous offer. Offering exactly the seller's last price (last_seller_price) accepts it" limits:"exclusiveMinimum=0"`
	Message     string  `json:"message,omitempty" jsonschema:"one short sentence to the seller" limits:"maxLength=1000"`
	Turn        int     `json:"turn,omitempty" jsonschema:"the turn of the snapshot you are answering; if the session has moved on the counter is refused with conflict instead of being applied to a later turn" limits:"minimum=1,maximum=100"`
	WaitSeconds int     `json:"wait_seconds,omitempty" jsonschema:"how long to wait for an asynchronous seller's answer before returning, in seconds (default 15, at most 45; 0 returns at once); a session still waiting after that says so (awaiting_seller, allowed move wait)" limits:"minimum=0,maximum=45,default=15"`
}

// CancelInput are the arguments of cancel_session.
type CancelInput struct {
	SessionID string `json:"session_id" jsonschema:"the session id" limits:"minLength=32,maxLength=32"`
	Reason    string `json:"reason,omitempty" jsonschema:"why, in a few words (sent to the seller)" limits:"maxLength=1000"`
}

// ApproveOutput is the result of approve_and_sign.
type ApproveOutput struct {
	Session    SessionSnapshot `json:"session"`
	ArtifactID string          `json:"artifact_id" jsonschema:"read the artifact as clinch://artifacts/{artifact_id} or check it with verify_artifact"`
	Price      Money           `json:"price"`
	LogIndex   uint64          `json:"log_index" jsonschema:"position of the deal in the registry's transparency log"`
	Verified   bool            `json:"verified" jsonschema:"buyer, seller and registry signatures and the log inclusion proof checked"`
}

func proposeDeal(d *Deps) Tool {
	return newTool(d, "propose_deal", "Propose a deal",
		"Start a negotiation with one seller: the server opens a signed session and returns the seller's first answer "+
			"(an asynchronous seller's answer is awaited up to wait_seconds, with progress notifications). "+
			"max_budget is a hard limit the server enforces; it is never revealed to the seller. "+
			"Continue with counter, then approve_and_sign once the session is CONFIRMED (ask the user first).",
		Hints{ReadOnly: flag(false), Destructive: flag(false), Idempotent: flag(false), OpenWorld: flag(true)},
		func(ctx context.Context, req mcp.CallToolRequest, in ProposeDealInput) (SessionSnapshot, string, error) {
			budget, err := parseMoney("max_budget", in.MaxBudget, in.Currency)
			if err != nil {
				return SessionSnapshot{}, "", err
			}
			cons := buyer.Constraints{Item: in.Item, Category: in.Category, Quantity: in.Quantity, Terms: in.Terms, MaxBudget: budget, MaxTurns: in.MaxTurns}
			opt := buyer.ProposeOptions{}
			if in.OpeningOffer != 0 {
				o, err := parseMoney("opening_offer", in.OpeningOffer, budget.Currency)
				if err != nil {
					return SessionSnapshot{}, "", err
				}
				opt.Opening = &o
			}
			if in.Autonomous && d.Decider == nil {
				return SessionSnapshot{}, "", inputErrorf("autonomous: the sandbox is off on this server (start it with --sandbox strategy or ollama)")
			}
			s, err := d.Core.ProposeDeal(ctx, in.Seller, cons, opt)
			if err != nil {
				return SessionSnapshot{}, "", err
			}
			if s.State.Terminal() {
				return SessionSnapshot{}, "", fmt.Errorf("%w: %s ended the session at once (%s, session %s is %s)", buyer.ErrRefused, s.Seller, s.Reason, s.ID, s.State)
			}
			if in.Autonomous {
				if s, err = d.Core.NegotiateAutonomously(ctx, s.ID, d.Decider); err != nil {
					return SessionSnapshot{}, "", fmt.Errorf("autonomous negotiation of session %s stopped (read it with get_session): %w", s.ID, err)
				}
			}
			if s, err = d.awaitAnswer(ctx, req, s, in.WaitSeconds); err != nil {
				return SessionSnapshot{}, "", err
			}
			return d.Snapshot(s), summary(s), nil
		})
}

func counter(d *Deps) Tool {
	return newTool(d, "counter", "Counter-offer",
		"Send a counter-offer in a session whose allowed_moves include counter or accept. "+
			"The server refuses, without sending anything, an offer above max_budget or below your previous offer. "+
			"To accept the seller's price, counter with exactly that price; the seller then confirms and the session becomes CONFIRMED. "+
			"An asynchronous seller's answer is awaited up to wait_seconds, so one call usually returns the answer.",
		Hints{ReadOnly: flag(false), Destructive: flag(false), Idempotent: flag(false), OpenWorld: flag(true)},
		func(ctx context.Context, req mcp.CallToolRequest, in CounterInput) (SessionSnapshot, string, error) {
			cur, err := d.Core.GetSession(ctx, in.SessionID)
			if err != nil {
				return SessionSnapshot{}, "", err
			}
			price, err := parseMoney("price", in.Price, cur.MaxBudget.Currency)
			if err != nil {
				return SessionSnapshot{}, "", err
			}
			s, err := d.Core.CounterAtTurn(ctx, in.SessionID, in.Turn, price, in.Message)
			if err != nil {
				return SessionSnapshot{}, "", err
			}
			if s, err = d.awaitAnswer(ctx, req, s, in.WaitSeconds); err != nil {
				return SessionSnapshot{}, "", err
			}
			return d.Snapshot(s), summary(s), nil
		})
}

func approveAndSign(d *Deps) Tool {
	return newTool(d, "approve_and_sign", "Approve and sign the deal",
		"Commit a CONFIRMED deal: this spends the user's money. Only call it after the user explicitly approved the price and seller. "+
			"When your client supports elicitation the server asks the user itself (seller, item, quantity, price) and signs only on their yes; "+
			"above the group threshold a decision room must have decided approve (open_decision). "+
			"The server signs the deal artifact, gets the seller's signature and the registry's countersignature, and verifies all three. "+
			"Calling it again for a signed session returns the same artifact.",
		Hints{ReadOnly: flag(false), Destructive: flag(true), Idempotent: flag(true), OpenWorld: flag(true)},
		func(ctx context.Context, req mcp.CallToolRequest, in SessionInput) (ApproveOutput, string, error) {
			a, err := d.Core.ApproveAndSign(buyer.WithApprover(ctx, approverFor(ctx, d)), in.SessionID)
			if err != nil {
				return ApproveOutput{}, "", err
			}
			s, err := d.Core.GetSession(ctx, in.SessionID)
			if err != nil {
				return ApproveOutput{}, "", err
			}
			// The engine signs only an artifact the registry client verified
			// against the pinned root key.
			out := ApproveOutput{Session: d.Snapshot(s), ArtifactID: s.ID, Price: moneyOf(a.Terms.Price), LogIndex: a.Receipt.LeafIndex, Verified: true}
			text := fmt.Sprintf("Deal signed: %s x%d from %s for %s. Artifact %s is in the registry log at index %d; signatures and log inclusion verified.",
				a.Terms.Item, a.Terms.Quantity, a.Terms.SellerDomain, a.Terms.Price, s.ID, a.Receipt.LeafIndex)
			return out, text, nil
		})
}

func cancelSession(d *Deps) Tool {
	return newTool(d, "cancel_session", "Cancel a negotiation",
		"Withdraw from a negotiation that is not signed yet. The seller is told; nothing can be signed for the session afterwards. "+
			"Cancelling a session that already ended returns it unchanged.",
		Hints{ReadOnly: flag(false), Destructive: flag(true), Idempotent: flag(true), OpenWorld: flag(true)},
		func(ctx context.Context, req mcp.CallToolRequest, in CancelInput) (SessionSnapshot, string, error) {
			s, err := d.Core.Cancel(ctx, in.SessionID, in.Reason)
			if err != nil {
				return SessionSnapshot{}, "", err
			}
			return d.Snapshot(s), summary(s), nil
		})
}
