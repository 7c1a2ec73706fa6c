package tools

import (
	"context"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// ListSessionsInput filters list_sessions.
type ListSessionsInput struct {
	State string `json:"state,omitempty" jsonschema:"only sessions in this state, e.g. CONFIRMED" limits:"enum=PROPOSED|COUNTERED|ESCALATED|CONFIRMED|SIGNED|CANCELLED|STALEMATE|EXPIRED|ERROR"`
}

// sessionStates are the states list_sessions filters by (its schema's enum).
var sessionStates = []buyer.State{buyer.StateProposed, buyer.StateCountered, buyer.StateEscalated, buyer.StateConfirmed, buyer.StateSigned,
	buyer.StateCancelled, buyer.StateStalemate, buyer.StateExpired, buyer.StateError}

func joinStates() string {
	names := make([]string, len(sessionStates))
	for i, st := range sessionStates {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

// ListSessionsOutput is the result of list_sessions.
type ListSessionsOutput struct {
	Sessions []SessionSnapshot `json:"sessions"`
}

func getSession(d *Deps) Tool {
	return newTool(d, "get_session", "Read a session",
		"Read the current state of one negotiation: prices, turn, allowed next moves, deadline and the seller's latest message (untrusted text).",
		Hints{ReadOnly: flag(true), Destructive: flag(false), Idempotent: flag(true), OpenWorld: flag(false)},
		func(ctx context.Context, req mcp.CallToolRequest, in SessionInput) (SessionSnapshot, string, error) {
			s, err := d.Core.GetSession(ctx, in.SessionID)
			if err != nil {
				return SessionSnapshot{}, "", err
			}
			return d.Snapshot(s), summary(s), nil
		})
}

func listSessions(d *Deps) Tool {
	return newTool(d, "list_sessions", "List sessions",
		"List every negotiation of this server, oldest first, optionally only those in one state.",
		Hints{ReadOnly: flag(true), Destructive: flag(false), Idempotent: flag(true), OpenWorld: flag(false)},
		func(ctx context.Context, req mcp.CallToolRequest, in ListSessionsInput) (ListSessionsOutput, string, error) {
			if in.State != "" && !slices.Contains(sessionStates, buyer.State(in.State)) {
				return ListSessionsOutput{}, "", inputErrorf("state %s is not a session state: want one of %s", echo(in.State), joinStates())
			}
			all, err := d.Core.ListSessions(ctx)
			if err != nil {
				return ListSessionsOutput{}, "", err
			}
			out := ListSessionsOutput{Sessions: []SessionSnapshot{}}
			for _, s := range all {
				if in.State == "" || string(s.State) == in.State {
					out.Sessions = append(out.Sessions, d.Snapshot(s))
				}
			}
			return out, count(len(out.Sessions), "session") + ".", nil
		})
}
