package buyer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// This file holds the approval rule: who must say yes before a CONFIRMED
// deal is signed. Every entry point (the CLI, the MCP tools, autonomous
// mode) reaches it through ApproveAndSign; the entry point only supplies the
// person's answer, through an Approver carried in the context.

// Approval failures. Each is returned wrapped with the details; nothing is
// signed or sent to the seller when one of them is returned.
var (
	// ErrApprovalDenied: the server's policy (--approval deny) never signs
	// through this entry point.
	ErrApprovalDenied = errors.New("approval policy forbids signing here")
	// ErrPersonRequired: a person must approve, and the caller cannot ask one
	// (an MCP client without elicitation).
	ErrPersonRequired = errors.New("a person must approve this deal and none can be asked")
	// ErrApprovalDeclined: the person declined or cancelled.
	ErrApprovalDeclined = errors.New("the person did not approve")
	// ErrApprovalInvalid: the answer does not match the requested schema.
	ErrApprovalInvalid = errors.New("the approval answer does not match the requested form")
	// ErrApprovalExpired: the answer came after the approval window, or a
	// group's decision is older than the window.
	ErrApprovalExpired = errors.New("the approval expired")
	// ErrGroupRequired: the price needs a decision room that decided approve.
	ErrGroupRequired = errors.New("a group decision is required for this price")
)

// ApprovalMode is the server's approval policy.
type ApprovalMode string

// Approval modes.
const (
	// ApprovalAuto asks the person when the caller can (ApprovalElicit),
	// and otherwise leaves it to the caller (ApprovalModel).
	ApprovalAuto ApprovalMode = ""
	// ApprovalElicit signs only with a person's answer, except below the
	// auto-approve ceiling.
	ApprovalElicit ApprovalMode = "elicit"
	// ApprovalModel signs when the caller asks (the model's own judgement),
	// unless a threshold asks for a person or a group.
	ApprovalModel ApprovalMode = "model"
	// ApprovalDeny never signs.
	ApprovalDeny ApprovalMode = "deny"
)

// ParseApprovalMode reads elicit, model, deny or auto ("" is auto).
func ParseApprovalMode(s string) (ApprovalMode, error) {
	switch ApprovalMode(s) {
	case ApprovalElicit, ApprovalModel, ApprovalDeny:
		return ApprovalMode(s), nil
	case "", "auto":
		return ApprovalAuto, nil
	}
	return "", fmt.Errorf("approval mode %q: %w: want elicit, model, deny or auto", s, ErrInvalidInput)
}

// DefaultApprovalWindow is how long a person has to answer, and how long a
// group's approve stays valid, when ApprovalPolicy.Window is 0.
const DefaultApprovalWindow = 15 * time.Minute

// ApprovalPolicy says who must approve a deal before it is signed.
type ApprovalPolicy struct {
	Mode ApprovalMode
	// PersonAbove: a price above it needs a person's answer whatever the
	// mode (nil: no threshold). A price in another currency counts as above.
	PersonAbove *anp.Money
	// GroupAbove: a price above it needs a decision room that decided
	// approve (nil: no threshold). A price in another currency counts as above.
	GroupAbove *anp.Money
	// Window bounds how long the person may take to answer and how long a
	// group's approve stays valid (0: DefaultApprovalWindow).
	Window time.Duration
}

func (p ApprovalPolicy) window() time.Duration {
	if p.Window <= 0 {
		return DefaultApprovalWindow
	}
	return p.Window
}

// Ways an approval was given (Approval.Via).
const (
	ViaPerson    = "person"     // the person answered (elicitation, or --approve on the command line)
	ViaGroup     = "group"      // a decision room decided approve
	ViaModel     = "model"      // the MCP client's model asked, under the model policy
	ViaAutoBelow = "auto_below" // below the auto-approve ceiling
)

// Outcomes of an approval (Approval.Outcome).
const (
	OutcomeApproved = "approved"
	OutcomeDeclined = "declined"
	OutcomeInvalid  = "invalid"
	OutcomeExpired  = "expired"
)

// Approval is one approval decision as recorded in the session: how, when,
// by whom, for which price, and what it decided.
type Approval struct {
	Via     string    `json:"via"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Price   anp.Money `json:"price"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
}

// ApprovalRequest is what the person is asked to approve. It holds no
// budget, key or credential.
type ApprovalRequest struct {
	SessionID string
	Seller    string
	Item      string
	Quantity  int
	Price     anp.Money
	// Deadline is the session's deadline: the seller's confirmation lapses then.
	Deadline time.Time
	// DeliverBy is the commitment's delivery deadline the deal will carry
	// (zero when it cannot be derived yet).
	DeliverBy time.Time
	AskedAt   time.Time
	// AnswerBy is when the approval window closes.
	AnswerBy time.Time
}

// Message is the text shown to the person.
func (q ApprovalRequest) Message() string {
	delivery := ""
	if !q.DeliverBy.IsZero() {
		delivery = fmt.Sprintf("The seller must deliver by %s. ", q.DeliverBy.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("Approve this purchase? Seller: %s. Item: %s. Quantity: %d. Price: %s (%s). %s"+
		"The seller's confirmation lapses at %s; answer by %s. Approving signs the deal and commits the money.",
		q.Seller, q.Item, q.Quantity, q.Price, q.Price.Currency, delivery,
		q.Deadline.UTC().Format(time.RFC3339), q.AnswerBy.UTC().Format(time.RFC3339))
}

// ApprovalField is the one field of the approval form.
const ApprovalField = "approve"

// ApprovalSchema is the JSON schema of the answer the person is asked for:
// one boolean, approve. Only accept with exactly {"approve": true} signs.
func ApprovalSchema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			ApprovalField: map[string]any{"type": "boolean", "title": "Approve and sign",
				"description": "true signs the deal and commits the money; false signs nothing"},
		},
		"required": []string{ApprovalField},
	}
}

// ApprovalAnswer is the person's answer as the client returned it.
type ApprovalAnswer struct {
	Action  string         // accept, decline or cancel
	Content map[string]any // the form's content (accept only)
}

// Approver reaches the person behind a request.
type Approver interface {
	// CanAsk reports whether a person can be asked at all.
	CanAsk() bool
	// Who names the person or the channel that answers, for the record.
	Who() string
	// Ask shows q to the person and returns the answer.
	Ask(ctx context.Context, q ApprovalRequest) (ApprovalAnswer, error)
}

type approverKey struct{}

// WithApprover returns ctx carrying the Approver of the request.
func WithApprover(ctx context.Context, a Approver) context.Context {
	return context.WithValue(ctx, approverKey{}, a)
}

// approverFrom returns the context's Approver, or nil.
func approverFrom(ctx context.Context) Approver {
	a, _ := ctx.Value(approverKey{}).(Approver)
	return a
}

// PresetApprover is the answer a person gave in advance (the command
// line's --approve): it always accepts.
type PresetApprover struct{ By string }

// CanAsk is always true.
func (p PresetApprover) CanAsk() bool { return true }

// Who is p.By.
func (p PresetApprover) Who() string { return p.By }

// Ask accepts.
func (p PresetApprover) Ask(context.Context, ApprovalRequest) (ApprovalAnswer, error) {
	return ApprovalAnswer{Action: "accept", Content: map[string]any{ApprovalField: true}}, nil
}

// readAnswer checks an answer against the requested schema: accept with
// exactly {"approve": bool}. It returns whether it approves, or the outcome
// and error of an answer that does not.
func readAnswer(a ApprovalAnswer) (string, error) {
	switch a.Action {
	case "decline", "cancel":
		return OutcomeDeclined, fmt.Errorf("%w: the person chose %s", ErrApprovalDeclined, a.Action)
	case "accept":
	default:
		return OutcomeInvalid, fmt.Errorf("%w: unknown action %q", ErrApprovalInvalid, clipText(a.Action, 20))
	}
	v, ok := a.Content[ApprovalField]
	yes, isBool := v.(bool)
	switch {
	case !ok || !isBool:
		return OutcomeInvalid, fmt.Errorf("%w: %q must be true or false", ErrApprovalInvalid, ApprovalField)
	case len(a.Content) != 1:
		return OutcomeInvalid, fmt.Errorf("%w: only %q may be answered, got %d fields", ErrApprovalInvalid, ApprovalField, len(a.Content))
	case !yes:
		return OutcomeDeclined, fmt.Errorf("%w: the person answered approve=false", ErrApprovalDeclined)
	}
	return OutcomeApproved, nil
}

// clipText cuts s to n bytes for a message.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// aboveOrForeign reports whether price is above limit, counting another
// currency as above. A nil limit is never passed.
func aboveOrForeign(price anp.Money, limit *anp.Money) bool {
	return limit != nil && (price.Currency != limit.Currency || price.Amount > limit.Amount)
}

// authorize is the approval rule. It decides, for the CONFIRMED session s,
// whether the caller in ctx may have it signed, asking the person through
// the context's Approver when the policy needs one. It returns the approval
// to record, or an error and, when somebody answered, the refused approval
// to record anyway.
func (c *Core) authorize(ctx context.Context, s Session, deliverBy time.Time) (Approval, error) {
	p := c.cfg.Approval
	price := *s.AgreedPrice
	now := c.cfg.Now().UTC()
	rec := Approval{At: now, Price: price, Outcome: OutcomeApproved}
	if p.Mode == ApprovalDeny {
		return Approval{}, fmt.Errorf("session %s: %w: this server's approval policy is deny; sign elsewhere", s.ID, ErrApprovalDenied)
	}
	if aboveOrForeign(price, p.GroupAbove) {
		return c.groupApproval(s, rec)
	}
	if c.autoApproves(s) {
		rec.Via, rec.By = ViaAutoBelow, "the auto-approve ceiling "+c.cfg.AutoApproveBelow.String()
		return rec, nil
	}
	ap := approverFrom(ctx)
	canAsk := ap != nil && ap.CanAsk()
	needPerson := p.Mode == ApprovalElicit || aboveOrForeign(price, p.PersonAbove) || (p.Mode == ApprovalAuto && canAsk)
	if !needPerson {
		rec.Via, rec.By = ViaModel, "the caller"
		if ap != nil {
			rec.By = ap.Who()
		}
		return rec, nil
	}
	if !canAsk {
		return Approval{}, fmt.Errorf("session %s: %w: the client cannot ask the person (no elicitation support); approve from a client that can, or below the auto-approve ceiling", s.ID, ErrPersonRequired)
	}
	return c.askPerson(ctx, ap, s, rec, deliverBy)
}

// askPerson asks the person and reads the answer within the window.
func (c *Core) askPerson(ctx context.Context, ap Approver, s Session, rec Approval, deliverBy time.Time) (Approval, error) {
	w := c.cfg.Approval.window()
	q := ApprovalRequest{SessionID: s.ID, Seller: s.Seller, Item: s.Item, Quantity: s.Quantity, Price: rec.Price,
		Deadline: s.Deadline, DeliverBy: deliverBy, AskedAt: rec.At, AnswerBy: rec.At.Add(w)}
	actx, cancel := context.WithTimeout(ctx, w)
	defer cancel()
	rec.Via, rec.By = ViaPerson, ap.Who()
	ans, err := ap.Ask(actx, q)
	rec.At = c.cfg.Now().UTC()
	if err != nil {
		rec.Outcome, rec.Detail = OutcomeExpired, "no answer: "+clipText(err.Error(), 200)
		return rec, fmt.Errorf("session %s: %w: no answer from the person: %w", s.ID, ErrApprovalExpired, err)
	}
	if rec.At.After(q.AnswerBy) {
		rec.Outcome, rec.Detail = OutcomeExpired, "answered after the window closed"
		return rec, fmt.Errorf("session %s: %w: the answer came after %s", s.ID, ErrApprovalExpired, q.AnswerBy.Format(time.RFC3339))
	}
	outcome, err := readAnswer(ans)
	rec.Outcome = outcome
	if err != nil {
		rec.Detail = err.Error()
		return rec, fmt.Errorf("session %s: %w; nothing was signed", s.ID, err)
	}
	return rec, nil
}

// groupApproval approves from the session's decision room, which must have
// decided approve for this price within the window.
func (c *Core) groupApproval(s Session, rec Approval) (Approval, error) {
	d := s.Decision
	if d == nil {
		return Approval{}, fmt.Errorf("session %s: %w: above %s a decision room must decide (open_decision)", s.ID, ErrGroupRequired, c.cfg.Approval.GroupAbove)
	}
	d = d.settle(rec.At)
	if d.Outcome != RoomApproved {
		return Approval{}, fmt.Errorf("session %s: %w: the decision room is %s", s.ID, ErrGroupRequired, d.Outcome)
	}
	if d.Price != rec.Price {
		return Approval{}, fmt.Errorf("session %s: %w: the room decided on %s, the deal is %s", s.ID, ErrGroupRequired, d.Price, rec.Price)
	}
	if d.DecidedAt.Add(c.cfg.Approval.window()).Before(rec.At) {
		return Approval{}, fmt.Errorf("session %s: %w: the room decided at %s", s.ID, ErrApprovalExpired, d.DecidedAt.Format(time.RFC3339))
	}
	rec.Via, rec.By, rec.Detail = ViaGroup, "decision room: "+d.approvers(), d.StopReason
	return rec, nil
}
