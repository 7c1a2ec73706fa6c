package tools

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Approval and decision-room error codes.
const (
	// CodeApprovalRequired: a person or a group must approve and has not:
	// the client cannot ask the person, or no room decided approve.
	CodeApprovalRequired ErrorCode = "approval_required"
	// CodeNotApproved: the person declined, cancelled, answered outside
	// the form or too late. Nothing was signed or sent.
	CodeNotApproved ErrorCode = "not_approved"
	// CodeApprovalDenied: the server's policy never signs through MCP.
	CodeApprovalDenied ErrorCode = "approval_denied"
	// CodeVoteRefused: a vote or room change the room's rules refuse.
	CodeVoteRefused ErrorCode = "vote_refused"
)

func init() {
	advice[CodeApprovalRequired] = "Nothing was signed. Tell the user what is needed: approval from an MCP client that can ask them (elicitation), " +
		"or, above the group threshold, a decision room that decided approve (open_decision, cast_vote, get_decision)."
	advice[CodeNotApproved] = "Nothing was signed and the seller saw no signature. Do not call approve_and_sign again unless the user asks you to."
	advice[CodeApprovalDenied] = "This server never signs deals through MCP. Tell the user to sign from the command line or another server."
	advice[CodeVoteRefused] = "Call get_decision to see the room's participants, votes and outcome; each participant votes once, with their own credential."
}

// approvalCode maps the engine's approval and room errors to their codes.
func approvalCode(err error) (ErrorCode, bool) {
	switch {
	case errors.Is(err, buyer.ErrApprovalDenied):
		return CodeApprovalDenied, true
	case errors.Is(err, buyer.ErrPersonRequired), errors.Is(err, buyer.ErrGroupRequired):
		return CodeApprovalRequired, true
	case errors.Is(err, buyer.ErrApprovalDeclined), errors.Is(err, buyer.ErrApprovalInvalid), errors.Is(err, buyer.ErrApprovalExpired):
		return CodeNotApproved, true
	case errors.Is(err, buyer.ErrInvalidRoom), errors.Is(err, buyer.ErrInvalidVote):
		return CodeInvalidInput, true
	case errors.Is(err, buyer.ErrAlreadyVoted), errors.Is(err, buyer.ErrNotParticipant), errors.Is(err, buyer.ErrUnknownParticipant),
		errors.Is(err, buyer.ErrRoomDecided), errors.Is(err, buyer.ErrRoomExists), errors.Is(err, buyer.ErrNoRoom):
		return CodeVoteRefused, true
	}
	return "", false
}

type participantKey struct{}

// WithParticipant returns ctx carrying the decision-room participant the
// transport authenticated for the request (by its own bearer token).
func WithParticipant(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, participantKey{}, name)
}

// ParticipantFrom returns the authenticated participant of the request, or "".
func ParticipantFrom(ctx context.Context) string {
	p, _ := ctx.Value(participantKey{}).(string)
	return p
}

// elicitApprover asks the person behind the MCP client, by elicitation.
type elicitApprover struct {
	srv    *server.MCPServer
	can    bool
	who    string
	redact func(string) string
}

// approverFor is the Approver of a tool request: elicitation when the
// client declared it and its session can carry it.
func approverFor(ctx context.Context, d *Deps) buyer.Approver {
	a := &elicitApprover{srv: server.ServerFromContext(ctx), redact: d.Secrets.Redact}
	session := server.ClientSessionFromContext(ctx)
	client := "an MCP client"
	if ci, ok := session.(server.SessionWithClientInfo); ok && ci.GetClientInfo().Name != "" {
		client = ci.GetClientInfo().Name
	}
	if p := ParticipantFrom(ctx); p != "" {
		client += ", participant " + p
	}
	a.who = fmt.Sprintf("the person at %s", clip(client, 120))
	_, sessionCan := session.(server.SessionWithElicitation)
	a.can = a.srv != nil && sessionCan && clientDeclaresElicitation(ctx, session)
	return a
}

// clientDeclaresElicitation reads the client's capabilities: the request's
// own (protocol 2026-07-28 on) or the session's, from initialize.
func clientDeclaresElicitation(ctx context.Context, session server.ClientSession) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.ClientCapabilities != nil {
		return info.ClientCapabilities.Elicitation != nil
	}
	if ci, ok := session.(server.SessionWithClientInfo); ok {
		return ci.GetClientCapabilities().Elicitation != nil
	}
	return false
}

func (a *elicitApprover) CanAsk() bool { return a.can }
func (a *elicitApprover) Who() string  { return a.who }

// Ask sends the elicitation and returns the client's answer as it came.
func (a *elicitApprover) Ask(ctx context.Context, q buyer.ApprovalRequest) (buyer.ApprovalAnswer, error) {
	res, err := a.srv.RequestElicitation(ctx, mcp.ElicitationRequest{Params: mcp.ElicitationParams{
		Message: a.redact(q.Message()), RequestedSchema: buyer.ApprovalSchema()}})
	if err != nil {
		return buyer.ApprovalAnswer{}, fmt.Errorf("elicitation: %w", err)
	}
	ans := buyer.ApprovalAnswer{Action: string(res.Action)}
	if m, ok := res.Content.(map[string]any); ok {
		ans.Content = m
	}
	return ans, nil
}

// ApprovalView is one recorded approval as a snapshot shows it.
type ApprovalView struct {
	Via     string `json:"via" jsonschema:"person (the user answered), group (a decision room), model (the client's model under the model policy) or auto_below (under the auto-approve ceiling)"`
	By      string `json:"by" jsonschema:"who answered"`
	At      string `json:"at" jsonschema:"RFC 3339 time of the answer"`
	Price   Money  `json:"price"`
	Outcome string `json:"outcome" jsonschema:"approved, declined, invalid or expired"`
	Detail  string `json:"detail,omitempty"`
}

func approvalViews(list []buyer.Approval) []ApprovalView {
	out := make([]ApprovalView, 0, len(list))
	for _, a := range list {
		out = append(out, ApprovalView{Via: a.Via, By: a.By, At: a.At.UTC().Format(time.RFC3339), Price: moneyOf(a.Price), Outcome: a.Outcome, Detail: a.Detail})
	}
	return out
}
