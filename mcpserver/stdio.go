package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// stdioOut is the MCP client's end of stdio. It serialises every write:
// mcp-go's (one Write per message: responses, and notifications its own
// goroutine takes from a queue) and the notifications tool handlers send
// through Notify, which are written before Notify returns. A handler's
// progress therefore always precedes its result, which mcp-go writes only
// after the handler returned; through mcp-go's queue it could come after.
// It also corrects error codes (see codeFixes).
type stdioOut struct {
	mu    sync.Mutex
	w     io.Writer
	fixes *codeFixes
}

func (o *stdioOut) Write(p []byte) (int, error) {
	out, _ := o.fixes.rewrite(p)
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Notify writes one notification line now (tools.Notifier).
func (o *stdioOut) Notify(_ context.Context, method string, params map[string]any) error {
	b, err := json.Marshal(mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION,
		Notification: mcp.Notification{Method: method, Params: mcp.NotificationParams{AdditionalFields: params}}})
	if err != nil {
		return fmt.Errorf("encode %s: %w", method, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", method, err)
	}
	return nil
}
