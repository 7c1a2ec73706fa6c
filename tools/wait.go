package tools

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// awaitAnswer waits, when the seller of s has not answered yet, up to
// seconds (buyer.AnswerWait's default when not given, and its bound; 0
// given explicitly: no wait) for its answer, reporting
// progress to a caller that sent a progress token, and returns the latest
// snapshot. A cancelled request stops the wait with an error.
func (d *Deps) awaitAnswer(ctx context.Context, req mcp.CallToolRequest, s buyer.Session, seconds int) (buyer.Session, error) {
	if _, given := req.GetArguments()["wait_seconds"]; s.Answered() || given && seconds == 0 {
		return s, nil // answered, or the caller asked not to wait
	}
	bound := buyer.AnswerWait(time.Duration(seconds) * time.Second)
	step := progressStepper(ctx, req)
	step(fmt.Sprintf("waiting up to %d s for %s to answer", int(bound/time.Second), s.Seller))
	got, err := d.Core.AwaitAnswer(ctx, s.ID, bound, func(cur buyer.Session) {
		step(fmt.Sprintf("session %s is %s", cur.ID, cur.State))
	})
	if err != nil {
		return got, fmt.Errorf("stopped waiting for %s (the session goes on; read it with get_session): %w", s.Seller, err)
	}
	if got.Answered() {
		step(fmt.Sprintf("%s answered: the session is %s", s.Seller, got.State))
	}
	return got, nil
}

// progressStepper returns a function that sends the next
// notifications/progress (progress 1, 2, … with no total: a wait ends when
// the seller answers) for the request when its caller sent a progress
// token, and does nothing otherwise.
func progressStepper(ctx context.Context, req mcp.CallToolRequest) func(msg string) {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return func(string) {}
	}
	token := req.Params.Meta.ProgressToken
	n := 0
	return func(msg string) {
		n++
		_ = notify(ctx, "notifications/progress", map[string]any{"progressToken": token, "progress": n, "message": msg}) // advisory
	}
}
