package tools

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// CommitmentView is a signed deal's obligation and its state, in a
// session snapshot.
type CommitmentView struct {
	State        string       `json:"state" jsonschema:"awaiting_delivery, fulfilled, received, disputed, resolved or breached, as the registry's log last showed it"`
	DeliverBy    string       `json:"deliver_by" jsonschema:"RFC 3339 time by which the seller must deliver (FULFILL logged)"`
	Fulfilment   string       `json:"fulfilment" jsonschema:"what counts as delivery: the seller's FULFILL with an evidence hash, logged by deliver_by"`
	ReceiptHours int64        `json:"receipt_window_hours" jsonschema:"hours after the seller's FULFILL in which the buyer confirms (confirm_delivery) or disputes (open_dispute); silence counts as received"`
	FulfilledAt  string       `json:"fulfilled_at,omitempty" jsonschema:"RFC 3339 time the seller's FULFILL was logged"`
	Late         bool         `json:"late,omitempty" jsonschema:"the seller fulfilled after deliver_by"`
	Breached     bool         `json:"breached,omitempty" jsonschema:"deliver_by passed without a FULFILL: the registry logged a breach"`
	Dispute      *DisputeView `json:"dispute,omitempty"`
	Resolution   *ResolveView `json:"resolution,omitempty"`
	DisputeURI   string       `json:"dispute_uri,omitempty" jsonschema:"read the dispute as this resource"`
	Events       int          `json:"events" jsonschema:"deal events in the registry's log"`
}

// DisputeView is a deal's dispute.
type DisputeView struct {
	By       string `json:"by" jsonschema:"buyer or seller"`
	Reason   string `json:"reason"`
	Severity int    `json:"severity"`
	OpenedAt string `json:"opened_at" jsonschema:"RFC 3339"`
}

// ResolveView is the arbiter's decision of a dispute.
type ResolveView struct {
	Outcome   string `json:"outcome" jsonschema:"for_buyer, for_seller or split"`
	DecidedBy string `json:"decided_by" jsonschema:"a person's handle or a published rule, e.g. rule non_delivery_v1"`
	At        string `json:"at" jsonschema:"RFC 3339"`
}

func rfc3339(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// commitmentOf is the snapshot view of a signed session's deal: what the
// log last showed, or the obligation as signed when it was not read yet.
func commitmentOf(s buyer.Session) *CommitmentView {
	if s.Artifact == nil {
		return nil
	}
	c := s.Artifact.Terms.Obligations()
	v := &CommitmentView{State: string(anp.StateAwaitingDelivery), DeliverBy: rfc3339(c.DeliverBy), Fulfilment: c.Fulfilment,
		ReceiptHours: c.ReceiptWindow / int64(time.Hour/time.Millisecond)}
	d := s.Deal
	if d == nil {
		return v
	}
	v.State, v.Late, v.Breached, v.Events = string(d.State), d.Late, d.Breached, d.Events
	if d.FulfilledAt != nil {
		v.FulfilledAt = d.FulfilledAt.UTC().Format(time.RFC3339)
	}
	if d.Dispute != nil {
		v.Dispute = &DisputeView{By: d.Dispute.By, Reason: d.Dispute.Reason, Severity: d.Dispute.Severity, OpenedAt: rfc3339(d.Dispute.At)}
		v.DisputeURI = "clinch://disputes/" + s.ID
	}
	if r := d.Resolution; r != nil {
		v.Resolution = &ResolveView{Outcome: r.Outcome, DecidedBy: r.DecidedBy.String(), At: rfc3339(r.At)}
	}
	return v
}

// DisputeInput are the arguments of open_dispute.
type DisputeInput struct {
	SessionID   string   `json:"session_id" jsonschema:"the signed session" limits:"minLength=32,maxLength=32"`
	Reason      string   `json:"reason" jsonschema:"non_delivery, late_delivery, not_as_described or unauthorised_change" limits:"enum=non_delivery|late_delivery|not_as_described|unauthorised_change"`
	Severity    int      `json:"severity" jsonschema:"1 (minor) to 5 (severe)" limits:"minimum=1,maximum=5"`
	Attachments []string `json:"attachments,omitempty" jsonschema:"SHA-256 hashes (64 lower-case hex characters) of files the user keeps as evidence; only the hashes are sent" limits:"maxItems=8"`
}

func confirmDelivery(d *Deps) Tool {
	return newTool(d, "confirm_delivery", "Confirm delivery",
		"Confirm that a signed deal was delivered as agreed, after the seller's FULFILL (the session's commitment state is fulfilled). "+
			"Only call it when the user says the goods arrived as agreed: a confirmed deal can no longer be disputed. "+
			"The registry logs the confirmation; calling it again for a received deal returns it unchanged.",
		Hints{ReadOnly: flag(false), Destructive: flag(false), Idempotent: flag(true), OpenWorld: flag(true)},
		func(ctx context.Context, req mcp.CallToolRequest, in SessionInput) (SessionSnapshot, string, error) {
			s, err := d.Core.ConfirmDelivery(ctx, in.SessionID)
			if err != nil {
				return SessionSnapshot{}, "", err
			}
			return d.Snapshot(s), fmt.Sprintf("Delivery of session %s confirmed: the deal is %s.", s.ID, s.Deal.State), nil
		})
}

func openDispute(d *Deps) Tool {
	return newTool(d, "open_dispute", "Open a dispute",
		"Dispute a signed deal with its seller (non-delivery, late delivery, not as described, unauthorised change of terms). "+
			"Only after the user asked for it: a deal has one dispute, it cannot be withdrawn, and the registry's arbiter decides it "+
			"(a non-delivery with no seller evidence is decided for the buyer 48 hours after the deadline). "+
			"The evidence sent is the hashes of the session's signed envelopes and of any attachments, never text.",
		Hints{ReadOnly: flag(false), Destructive: flag(true), Idempotent: flag(false), OpenWorld: flag(true)},
		func(ctx context.Context, req mcp.CallToolRequest, in DisputeInput) (SessionSnapshot, string, error) {
			s, err := d.Core.OpenDispute(ctx, in.SessionID, buyer.DisputeRequest{Reason: in.Reason, Severity: in.Severity, Attachments: in.Attachments})
			if err != nil {
				return SessionSnapshot{}, "", err
			}
			return d.Snapshot(s), fmt.Sprintf("Dispute of session %s opened (%s, severity %d); read it as clinch://disputes/%s. The registry's arbiter decides it.", s.ID, in.Reason, in.Severity, s.ID), nil
		})
}
