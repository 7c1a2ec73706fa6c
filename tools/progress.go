package tools

import (
	"context"

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

// progressSender returns a function that sends notifications/progress for
// the request when its caller sent a progress token, and does nothing
// otherwise. Every notification is sent from the handler before it returns,
// never after the result.
func progressSender(ctx context.Context, req mcp.CallToolRequest) func(done, total int, msg string) {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return func(int, int, string) {}
	}
	token := req.Params.Meta.ProgressToken
	return func(done, total int, msg string) {
		params := map[string]any{"progressToken": token, "progress": done, "total": total, "message": msg}
		_ = notify(ctx, "notifications/progress", params) // progress is advisory: a failed send never fails the call
	}
}
