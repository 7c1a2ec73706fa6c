package tools

import (
	"context"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Notifier writes a notification to the client of the request in ctx and
// returns only once it is written, so that everything a tool handler sends
// reaches the client before the handler's result. mcp-go queues
// notifications for a separate writer goroutine, which lets a result
// overtake them; a transport that can write synchronously (our stdio
// transport) puts its Notifier into the request context with WithNotifier.
type Notifier interface {
	Notify(ctx context.Context, method string, params map[string]any) error
}

type notifierKey struct{}

// WithNotifier returns ctx carrying n for the tool handlers run under it.
func WithNotifier(ctx context.Context, n Notifier) context.Context {
	return context.WithValue(ctx, notifierKey{}, n)
}

// notify sends a notification to the request's client: synchronously through
// the context's Notifier when there is one, else through mcp-go's queue.
func notify(ctx context.Context, method string, params map[string]any) error {
	if n, ok := ctx.Value(notifierKey{}).(Notifier); ok {
		return n.Notify(ctx, method, params)
	}
	if srv := server.ServerFromContext(ctx); srv != nil {
		return srv.SendNotificationToClient(ctx, method, params)
	}
	return nil
}

// cascadeProgress reports each seller's outcome of a cascade as a
// notifications/progress, when the caller sent a progress token. The engine
// tells how many sellers it negotiates with only in its result, so every
// notification waits for the next outcome (or the end of the cascade): the
// last one then carries total, the number of sellers actually negotiated,
// and no notification claims a total that is not known. Everything is sent
// from the handler before it returns, never after the result.
type cascadeProgress struct {
	ctx   context.Context
	token mcp.ProgressToken

	mu   sync.Mutex // the engine reports parallel outcomes from several goroutines
	done int        // outcomes sent
	held string     // message of the outcome not sent yet; "" when none
}

func newCascadeProgress(ctx context.Context, req mcp.CallToolRequest) *cascadeProgress {
	p := &cascadeProgress{ctx: ctx}
	if req.Params.Meta != nil {
		p.token = req.Params.Meta.ProgressToken
	}
	return p
}

// outcome records one seller's outcome and sends the previous one.
func (p *cascadeProgress) outcome(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush(0)
	p.held = msg
}

// finish sends the held outcome, with total when total > 0.
func (p *cascadeProgress) finish(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush(total)
}

// flush sends the held outcome; the caller holds p.mu.
func (p *cascadeProgress) flush(total int) {
	if p.held == "" {
		return
	}
	p.done++
	msg := p.held
	p.held = ""
	if p.token == nil {
		return
	}
	params := map[string]any{"progressToken": p.token, "progress": p.done, "message": msg}
	if total > 0 {
		params["total"] = total
	}
	_ = notify(p.ctx, "notifications/progress", params) // progress is advisory: a failed send never fails the cascade
}
