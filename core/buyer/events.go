package buyer

import (
	"sort"
	"sync"
)

// Status is the engine's connection status (one per engine, not per session).
type Status string

// Connection statuses.
const (
	StatusOffline      Status = "OFFLINE"
	StatusConnecting   Status = "CONNECTING"
	StatusIdle         Status = "IDLE"
	StatusReconnecting Status = "RECONNECTING"
	StatusNegotiating  Status = "NEGOTIATING"
	StatusError        Status = "ERROR"
)

// EventType names an engine event.
type EventType string

// Events, as in the Clinch design.
const (
	EventStatusChanged    EventType = "status_changed"
	EventCounterReceived  EventType = "counter_received"
	EventApprovalRequired EventType = "approval_required"
	EventDealSigned       EventType = "deal_signed"
	EventSessionCancelled EventType = "session_cancelled"
	EventLog              EventType = "log"
	// EventEscalated: the seller asked a person on its side to review the
	// session (state ESCALATED); EventEscalationResolved: that person
	// decided, and the session left ESCALATED.
	EventEscalated          EventType = "escalated"
	EventEscalationResolved EventType = "escalation_resolved"
)

// Event is delivered to subscribers. Session is a snapshot without secrets.
type Event struct {
	Type    EventType
	Status  Status
	Session *Session
	Message string
}

// eventBus delivers events to subscribers and keeps the connection status.
type eventBus struct {
	subs   hookSet[Event]
	mu     sync.Mutex
	status Status
}

// Subscribe registers fn for every event and returns a function that removes it.
// fn runs synchronously on the goroutine that caused the event; keep it short.
func (c *Core) Subscribe(fn func(Event)) (unsubscribe func()) {
	return c.events.subs.add(fn)
}

// emit delivers e to every subscriber.
func (b *eventBus) emit(e Event) { b.subs.call(e) }

// log delivers a log event.
func (b *eventBus) log(msg string) { b.emit(Event{Type: EventLog, Message: msg}) }

// Status returns the connection status.
func (c *Core) Status() Status {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	return c.events.status
}

// setStatus records the connection status and announces a change.
func (b *eventBus) setStatus(s Status) {
	b.mu.Lock()
	changed := b.status != s
	b.status = s
	b.mu.Unlock()
	if changed {
		b.emit(Event{Type: EventStatusChanged, Status: s})
	}
}

func sortSessions(s []Session) {
	sort.Slice(s, func(i, j int) bool {
		if !s[i].CreatedAt.Equal(s[j].CreatedAt) {
			return s[i].CreatedAt.Before(s[j].CreatedAt)
		}
		return s[i].ID < s[j].ID
	})
}
