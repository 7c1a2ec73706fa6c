// Package tools holds the MCP tools of clinch-mcp: one typed definition per
// tool (input schema, output schema, all four annotations set on purpose)
// and a thin handler over core/buyer. Domain failures come back as tool
// errors a model can read and act on, never as protocol errors.
package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
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
// one-line summary for people and text-only hosts, or an error.
type handlerFunc[In, Out any] func(ctx context.Context, req mcp.CallToolRequest, in In) (Out, string, error)

// newTool builds a typed tool whose input and output schemas come from In
// and Out (bounded by In's `limits` tags), with the annotations of h. Its
// results carry the structured content and, in their text block, the
// summary followed by the same JSON; its failures are isError results
// starting with an ErrorCode, logged with that code.
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
	raw, err := applyLimits(reflect.TypeFor[In](), def.RawInputSchema)
	if err != nil {
		panic(fmt.Sprintf("tool %s: %v", name, err)) // our own tags: a programming error
	}
	def.RawInputSchema = raw
	validator, err := newInputValidator(name, def.RawInputSchema)
	if err != nil {
		panic(err) // a schema generated from our own types: a programming error
	}
	run := func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		raw, err := json.Marshal(req.GetRawArguments())
		if err != nil {
			return nil, inputErrorf("arguments: %v", err)
		}
		if d.Secrets.holdsSecret(string(raw)) { // before anything could echo an argument back
			return nil, inputErrorf("an argument contains a stored credential or key; the server adds credentials itself, so never put them in tool arguments")
		}
		if err := validator.validate(raw); err != nil {
			return nil, err
		}
		var in In
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, inputErrorf("arguments: %v", err)
		}
		out, summary, err := fn(ctx, req, in)
		if err != nil {
			return nil, err
		}
		return structuredResult(out, summary)
	}
	handler := func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		res, err := run(ctx, req)
		if err != nil {
			code := classify(err)
			d.Logger.Warn().Str("tool", name).Str("code", string(code)).Str("error", clip(d.Secrets.Redact(err.Error()), maxLoggedError)).
				Dur("took", time.Since(start)).Msg("tool call failed")
			return d.Secrets.redactResult(toolError(err)), nil
		}
		d.Logger.Info().Str("tool", name).Dur("took", time.Since(start)).Msg("tool call")
		return d.Secrets.redactResult(res), nil
	}
	return Tool{Def: def, Hints: h, Handler: handler}
}

// structuredResult carries out as structured content and, as the spec asks
// of tools with structured output, the same JSON in the text block, after
// the one-line summary. The structured content is that JSON, encoded once:
// the response's encoder writes it as it would write out (compacted, with
// its own HTML escaping), and the output validation reads it without
// encoding out again.
func structuredResult(out any, summary string) (*mcp.CallToolResult, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the untrusted-text fence markers stay readable
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode the result: %w", err)
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	var b strings.Builder
	b.Grow(len(summary) + 1 + len(data))
	b.WriteString(strings.Join(strings.Fields(summary), " "))
	b.WriteString("\n")
	b.Write(data)
	return mcp.NewToolResultStructured(json.RawMessage(data), b.String()), nil
}

// ErrorCode names a domain failure for the model.
type ErrorCode string

// Tool error codes, each with advice the model can act on.
const (
	CodeOverBudget   ErrorCode = "over_budget"
	CodeWrongState   ErrorCode = "wrong_state"
	CodeConflict     ErrorCode = "conflict"
	CodeUnknown      ErrorCode = "unknown_session"
	CodeNoSellers    ErrorCode = "no_sellers"
	CodeUnreachable  ErrorCode = "seller_unreachable"
	CodeRefused      ErrorCode = "seller_refused"
	CodeInvalidInput ErrorCode = "invalid_input"
	CodeInternal     ErrorCode = "internal_error"
	// CodeRegistryUntrusted: the registry's transparency log is forked
	// (registry.ErrLogFork), so no new deal is made through it.
	CodeRegistryUntrusted ErrorCode = "registry_untrusted"
	// CodeSellerKeyUntrusted: the seller's listed key is not the one this
	// buyer dealt with and the registry's log does not prove the change
	// (registry.ErrKeyChanged), or the key is revoked (registry.ErrKeyRevoked).
	CodeSellerKeyUntrusted ErrorCode = "seller_key_untrusted"
	// CodeRateLimited: the registry refused the request under one of its
	// rate limits (logins per address, new sessions per identity;
	// buyer.ErrRateLimited). Nothing reached a seller.
	CodeRateLimited ErrorCode = "rate_limited"
	// CodeQuestionLimit: the session asked the seller as many questions
	// as it may (buyer.ErrQuestionLimit).
	CodeQuestionLimit ErrorCode = "question_limit"
)

var advice = map[ErrorCode]string{
	CodeOverBudget:   "Nothing was sent. Offer at or below max_budget, or cancel the session.",
	CodeWrongState:   "Call get_session and pick one of its allowed_moves.",
	CodeConflict:     "Another move on this session is in progress or the seller has not answered yet. Call get_session, then retry once.",
	CodeUnknown:      "No session of this server has that id: list_sessions shows the ids (sessions and artifacts share them).",
	CodeNoSellers:    "Nothing was negotiated. Call discover_sellers to see which categories have sellers, then retry with one of them.",
	CodeUnreachable:  "The seller or registry did not answer. Retry later or choose another seller with discover_sellers.",
	CodeRefused:      "The seller or registry refused this request; read the reason and adjust, or choose another seller.",
	CodeInvalidInput: "Fix the arguments named in the message and call the tool again.",
	CodeInternal:     "This is a server problem, not something the arguments can fix.",
	CodeRegistryUntrusted: "The registry signed two versions of its deal log that cannot both be true, so this server makes no new deal through it. " +
		"Do not retry or switch sellers: tell the user, who should report the two tree heads in the message to the registry operator. Deals signed before stay verifiable with verify_artifact.",
	CodeSellerKeyUntrusted: "Nothing was sent to this seller: its key changed without a rotation in the registry's log, or it was revoked. " +
		"Do not retry with this seller; tell the user, or choose another seller with discover_sellers.",
	CodeRateLimited: fmt.Sprintf(rateLimitAdvice, "as long as the message says"),
	CodeQuestionLimit: "Nothing was sent. This session has no questions left: negotiate with counter using what the seller said, " +
		"or cancel and ask another seller.",
}

// rateLimitAdvice is the advice of rate_limited, with how long to wait.
const rateLimitAdvice = "The registry limits how fast you may log in and start sessions; this request reached no seller. " +
	"Wait %s, then call the tool again with the same arguments; switching sellers does not help."

// adviceFor is the advice of code for err: for rate_limited, with the wait
// the registry's Retry-After asked for when the answer carried one.
func adviceFor(code ErrorCode, err error) string {
	var rl *registry.RateLimitError
	if code == CodeRateLimited && errors.As(err, &rl) && rl.RetryAfter > 0 {
		return fmt.Sprintf(rateLimitAdvice, fmt.Sprintf("%d seconds", int(rl.RetryAfter.Round(time.Second)/time.Second)))
	}
	return advice[code]
}

// coded gives an error its own code, overriding classify.
type coded struct {
	code ErrorCode
	err  error
}

func (e *coded) Error() string { return e.err.Error() }
func (e *coded) Unwrap() error { return e.err }

// classify maps an engine error to a tool error code.
func classify(err error) ErrorCode {
	if code, ok := limitCode(err); ok {
		return code
	}
	var c *coded
	switch {
	case errors.As(err, &c):
		return c.code
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
	case errors.Is(err, registry.ErrLogFork):
		return CodeRegistryUntrusted
	case errors.Is(err, registry.ErrKeyChanged), errors.Is(err, registry.ErrKeyRevoked):
		return CodeSellerKeyUntrusted
	case errors.Is(err, buyer.ErrRefused):
		return CodeRefused
	case errors.Is(err, buyer.ErrInvalidInput), errors.Is(err, errInput):
		return CodeInvalidInput
	}
	return fallbackCode(err)
}

// fallbackCode classifies what classify's own cases do not: approvals and
// decision rooms (approvalCode), deadlines and remote failures.
func fallbackCode(err error) ErrorCode {
	if code, ok := approvalCode(err); ok {
		return code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return CodeUnreachable
	}
	switch anp.CodeOf(err) {
	case anp.CodeUnavailable:
		return CodeUnreachable
	case anp.CodeRateLimited:
		return CodeRateLimited
	}
	return CodeInternal
}

// limitCode maps the refusals of ask_seller (a question carrying a
// price or the budget is bad input, one past the limit has its own code)
// and the registry's rate limits.
func limitCode(err error) (ErrorCode, bool) {
	switch {
	case errors.Is(err, buyer.ErrRateLimited):
		return CodeRateLimited, true
	case errors.Is(err, buyer.ErrQuestionLimit):
		return CodeQuestionLimit, true
	case errors.Is(err, buyer.ErrQuestionPrice):
		return CodeInvalidInput, true
	}
	return "", false
}

// errInput marks argument errors found by the tool layer itself.
var errInput = errors.New("invalid input")

// inputError is an argument error; its text is the message alone, since
// the invalid_input code already says what kind of error it is.
type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == errInput }

func inputErrorf(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// Bounds on text that reaches a model or a log line.
const (
	maxErrorText   = 600 // a tool error's message, before its advice
	maxLoggedError = 300
	maxEcho        = 40 // an argument value quoted back in a message
)

// toolError renders a domain failure as an isError result: the code, the
// message (without the engine's own "invalid input" prefix, which the code
// already says, and never longer than maxErrorText) and the advice.
func toolError(err error) *mcp.CallToolResult {
	code := classify(err)
	msg := err.Error()
	if code == CodeInvalidInput {
		msg = strings.ReplaceAll(msg, buyer.ErrInvalidInput.Error()+": ", "")
	}
	return mcp.NewToolResultError(fmt.Sprintf("%s: %s\n%s", code, clip(msg, maxErrorText), adviceFor(code, err)))
}

// clip returns s cut to at most n bytes on a rune boundary, saying how long
// it was when it had to be cut: bad input is never echoed whole.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes in all)", prefix(s, n), len(s))
}

// echo quotes an argument value for a message, cut to a short prefix.
func echo(s string) string {
	if len(s) <= maxEcho {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q… (%d bytes in all)", prefix(s, maxEcho), len(s))
}

// prefix returns at most n bytes of s, cut on a rune boundary.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
