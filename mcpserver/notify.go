package mcpserver

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// sessionWatch tells MCP clients that a negotiation changed, without their
// polling get_session:
//   - a client subscribed (resources/subscribe) to clinch://sessions/{id},
//     its transcript or clinch://artifacts/{id} gets
//     notifications/resources/updated for that URI on every change of the
//     session the engine reports (OnSessionChange: a seller's answer, a state
//     change, a move, or a change kept outside the session such as a vote);
//   - every client gets a log message (notifications/message, level notice,
//     subject to its logging/setLevel) when a seller escalates to a person
//     and when that person decides.
//
// Subscriptions are kept per MCP client session and dropped with it. The
// 2026-07-28 subscriptions/listen stream is not served for resources: its
// resource subscriptions are removed from the request, so the server's
// acknowledgement never claims what it does not deliver.
type sessionWatch struct {
	srv *server.MCPServer
	log zerolog.Logger

	mu      sync.Mutex
	subs    map[string]map[string]bool      // client session id -> subscribed URIs
	clients map[string]server.ClientSession // registered client sessions
}

func newSessionWatch(log zerolog.Logger) *sessionWatch {
	return &sessionWatch{log: log, subs: map[string]map[string]bool{}, clients: map[string]server.ClientSession{}}
}

// hook registers the watch's MCP hooks.
func (w *sessionWatch) hook(h *server.Hooks) {
	h.AddOnRegisterSession(func(_ context.Context, s server.ClientSession) {
		w.mu.Lock()
		w.clients[s.SessionID()] = s
		w.mu.Unlock()
	})
	h.AddOnUnregisterSession(func(_ context.Context, s server.ClientSession) {
		w.mu.Lock()
		delete(w.clients, s.SessionID())
		delete(w.subs, s.SessionID())
		w.mu.Unlock()
	})
	h.AddAfterSubscribe(func(ctx context.Context, _ any, req *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
		if s := server.ClientSessionFromContext(ctx); s != nil {
			w.subscribe(s.SessionID(), req.Params.URI)
		}
	})
	h.AddAfterUnsubscribe(func(ctx context.Context, _ any, req *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
		if s := server.ClientSessionFromContext(ctx); s != nil {
			w.unsubscribe(s.SessionID(), req.Params.URI)
		}
	})
	h.AddBeforeSubscriptionsListen(func(_ context.Context, _ any, req *mcp.SubscriptionsListenRequest) {
		req.Params.Notifications.ResourceSubscriptions = nil
	})
}

// watch connects the watch to the engine's session changes and events.
func (w *sessionWatch) watch(core *buyer.Core) {
	core.OnSessionChange(w.changed)
	core.Subscribe(func(e buyer.Event) {
		if e.Session != nil && (e.Type == buyer.EventEscalated || e.Type == buyer.EventEscalationResolved) {
			w.logAll(mcp.LoggingLevelNotice, escalationText(e))
		}
	})
}

func (w *sessionWatch) subscribe(client, uri string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.subs[client] == nil {
		w.subs[client] = map[string]bool{}
	}
	w.subs[client][uri] = true
}

func (w *sessionWatch) unsubscribe(client, uri string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.subs[client], uri)
}

// sessionURIs are the resources that show session id.
func sessionURIs(id string) []string {
	return []string{"clinch://sessions/" + id, "clinch://sessions/" + id + "/transcript", "clinch://artifacts/" + id}
}

// changed sends notifications/resources/updated for session id to every
// subscribed client. It runs on the goroutine that changed the session and
// never blocks: mcp-go drops a notification whose client queue is full.
func (w *sessionWatch) changed(id string) {
	type send struct{ client, uri string }
	var out []send
	w.mu.Lock()
	for client, uris := range w.subs {
		for _, u := range sessionURIs(id) {
			if uris[u] {
				out = append(out, send{client, u})
			}
		}
	}
	w.mu.Unlock()
	for _, s := range out {
		if err := w.srv.SendNotificationToSpecificClient(s.client, mcp.MethodNotificationResourceUpdated, map[string]any{"uri": s.uri}); err != nil {
			w.log.Debug().Err(err).Str("uri", s.uri).Msg("resource update not delivered")
		}
	}
}

// logAll sends a log message to every client whose level lets it through.
func (w *sessionWatch) logAll(level mcp.LoggingLevel, text string) {
	w.mu.Lock()
	clients := make([]server.ClientSession, 0, len(w.clients))
	for _, c := range w.clients {
		clients = append(clients, c)
	}
	w.mu.Unlock()
	for _, c := range clients {
		if lc, ok := c.(server.SessionWithLogging); ok && !level.ShouldSendTo(lc.GetLogLevel()) {
			continue
		}
		params := map[string]any{"level": level, "logger": "clinch", "data": text}
		if err := w.srv.SendNotificationToSpecificClient(c.SessionID(), "notifications/message", params); err != nil {
			w.log.Debug().Err(err).Msg("log message not delivered")
		}
	}
}

// escalationText says what an escalation event means for the user, in the
// server's own words: no seller text, no budget.
func escalationText(e buyer.Event) string {
	s := e.Session
	if e.Type == buyer.EventEscalated {
		return fmt.Sprintf("Session %s with %s: the seller asked a person on its side to review the deal (state ESCALATED). "+
			"Wait for their decision or cancel_session; clinch://sessions/%s is updated when they decide.", s.ID, s.Seller, s.ID)
	}
	return fmt.Sprintf("Session %s with %s: the seller's person decided (%s); the session is now %s. Read it with get_session.",
		s.ID, s.Seller, outcomeOf(s), s.State)
}

func outcomeOf(s *buyer.Session) string {
	if s.Escalation != nil && s.Escalation.Outcome != "" {
		return s.Escalation.Outcome
	}
	return strings.ToLower(string(s.State))
}
