// Package tools holds the MCP tools of clinch-mcp: one typed definition per
// tool (input schema, output schema, all four annotations set on purpose)
// and a thin handler over core/buyer. Domain failures come back as tool
// errors a model can read and act on, never as protocol errors.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Hints are the four MCP tool annotations. Every tool must set all four:
// mcp-go's defaults would mark every tool destructive and open-world.
type Hints struct {
	ReadOnly    *bool
	Destructive *bool
	Idempotent  *bool
	OpenWorld   *bool
}

func flag(v bool) *bool { return &v }

// Tool is one MCP tool: its definition and handler.
type Tool struct {
	Def     mcp.Tool
	Hints   Hints
	Handler server.ToolHandlerFunc
}

// handlerFunc is a typed tool body: it returns the structured result, a
// short text for hosts that show text only, or an error.
type handlerFunc[In, Out any] func(ctx context.Context, req mcp.CallToolRequest, in In) (Out, string, error)

// newTool builds a typed tool whose input and output schemas come from In
// and Out, with the annotations of h.
func newTool[In, Out any](d *Deps, name, title, description string, h Hints, fn handlerFunc[In, Out]) Tool {
	opts := []mcp.ToolOption{
		mcp.WithDescription(description),
		mcp.WithToolTitle(title),
		mcp.WithInputSchema[In](),
		mcp.WithOutputSchema[Out](),
		mcp.WithTitleAnnotation(title),
	}
	if h.ReadOnly != nil {
		opts = append(opts, mcp.WithReadOnlyHintAnnotation(*h.ReadOnly))
	}
	if h.Destructive != nil {
		opts = append(opts, mcp.WithDestructiveHintAnnotation(*h.Destructive))
	}
	if h.Idempotent != nil {
		opts = append(opts, mcp.WithIdempotentHintAnnotation(*h.Idempotent))
	}
	if h.OpenWorld != nil {
		opts = append(opts, mcp.WithOpenWorldHintAnnotation(*h.OpenWorld))
	}
	def := mcp.NewTool(name, opts...)
	def.OutputSchema.Properties = tightenNullable(def.OutputSchema.Properties)
	validator, err := newInputValidator(name, def.RawInputSchema)
	if err != nil {
		panic(err) // a schema generated from our own types: a programming error
	}
	handler := func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		raw, err := json.Marshal(req.GetRawArguments())
		if err != nil {
			return toolError(inputErrorf("arguments: %v", err)), nil
		}
		if d.Guard.holdsSecret(string(raw)) { // before anything could echo an argument back
			return toolError(inputErrorf("an argument contains a stored credential or key; the server adds credentials itself, so never put them in tool arguments")), nil
		}
		if err := validator.validate(raw); err != nil {
			return d.Guard.redactResult(toolError(err)), nil
		}
		var in In
		if err := json.Unmarshal(raw, &in); err != nil {
			return d.Guard.redactResult(toolError(inputErrorf("arguments: %v", err))), nil
		}
		out, text, err := fn(ctx, req, in)
		if err != nil {
			return d.Guard.redactResult(toolError(err)), nil
		}
		return d.Guard.redactResult(mcp.NewToolResultStructured(out, text)), nil
	}
	return Tool{Def: def, Hints: h, Handler: handler}
}

// ErrorCode names a domain failure for the model.
type ErrorCode string

// Tool error codes, each with advice the model can act on.
const (
	CodeOverBudget   ErrorCode = "over_budget"
	CodeWrongState   ErrorCode = "wrong_state"
	CodeConflict     ErrorCode = "conflict"
	CodeUnknown      ErrorCode = "unknown_session"
	CodeUnreachable  ErrorCode = "seller_unreachable"
	CodeRefused      ErrorCode = "seller_refused"
	CodeInvalidInput ErrorCode = "invalid_input"
	CodeInternal     ErrorCode = "internal_error"
)

var advice = map[ErrorCode]string{
	CodeOverBudget:   "Nothing was sent. Offer at or below max_budget, or cancel the session.",
	CodeWrongState:   "Call get_session and pick one of its allowed_moves.",
	CodeConflict:     "Another move on this session is in progress or the seller has not answered yet. Call get_session, then retry once.",
	CodeUnknown:      "Check the session_id with list_sessions.",
	CodeUnreachable:  "The seller or registry did not answer. Retry later or choose another seller with discover_sellers.",
	CodeRefused:      "The seller or registry refused this request; read the reason and adjust, or choose another seller.",
	CodeInvalidInput: "Fix the arguments named in the message and call the tool again.",
	CodeInternal:     "This is a server problem, not something the arguments can fix.",
}

// classify maps an engine error to a tool error code.
func classify(err error) ErrorCode {
	switch {
	case errors.Is(err, buyer.ErrOverBudget):
		return CodeOverBudget
	case errors.Is(err, buyer.ErrBadState):
		return CodeWrongState
	case errors.Is(err, buyer.ErrBusy), errors.Is(err, buyer.ErrConflict):
		return CodeConflict
	case errors.Is(err, buyer.ErrNotFound):
		return CodeUnknown
	case errors.Is(err, buyer.ErrUnavailable):
		return CodeUnreachable
	case errors.Is(err, buyer.ErrRefused):
		return CodeRefused
	case errors.Is(err, buyer.ErrInvalidInput), errors.Is(err, errInput):
		return CodeInvalidInput
	case errors.Is(err, context.DeadlineExceeded):
		return CodeUnreachable
	}
	if anp.CodeOf(err) == anp.CodeUnavailable {
		return CodeUnreachable
	}
	return CodeInternal
}

// errInput marks argument errors found by the tool layer itself.
var errInput = errors.New("invalid input")

func inputErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errInput}, args...)...)
}

// toolError renders a domain failure as an isError result.
func toolError(err error) *mcp.CallToolResult {
	code := classify(err)
	return mcp.NewToolResultError(fmt.Sprintf("%s: %v\n%s", code, err, advice[code]))
}
