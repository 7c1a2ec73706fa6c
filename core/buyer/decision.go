package buyer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// This file holds the decision room of a CONFIRMED session, without I/O:
// its rule, its votes and how they aggregate. The room is part of the
// session record, so it persists in the session store with the record's
// version check and is shared by every pod that shares the store
// (decisionops.go does the loading and saving).

// Decision-room failures, each returned wrapped with the details.
var (
	ErrNoRoom             = errors.New("the session has no decision room")
	ErrRoomExists         = errors.New("the session already has a decision room")
	ErrRoomDecided        = errors.New("the decision room has already decided")
	ErrAlreadyVoted       = errors.New("the participant has already voted")
	ErrNotParticipant     = errors.New("the caller is not a participant of this decision room")
	ErrUnknownParticipant = errors.New("unknown participant")
	ErrInvalidRoom        = errors.New("invalid decision room")
	ErrInvalidVote        = errors.New("invalid vote")
)

// RoomOutcome is where a decision room stands.
type RoomOutcome string

// Room outcomes.
const (
	RoomPending   RoomOutcome = "pending"
	RoomApproved  RoomOutcome = "approve"
	RoomDenied    RoomOutcome = "deny"
	RoomEscalated RoomOutcome = "escalated" // votes disagree: the named person decides
)

// Aggregation rules.
const (
	RuleUnanimity = "unanimity"
	RuleQuorum    = "quorum"
	RuleWeighted  = "weighted"
)

// Vote choices.
const (
	ChoiceApprove = "approve"
	ChoiceDeny    = "deny"
)

// Bounds of a decision room.
const (
	MaxParticipants  = 16
	MaxRationale     = 280 // bytes of a vote's rationale
	MaxScore         = 10
	MinRoomDeadline  = time.Second
	MaxRoomDeadline  = 7 * 24 * time.Hour
	maxParticipantID = 64
)

// RoomRule is how votes aggregate.
type RoomRule struct {
	Kind string `json:"kind"` // unanimity, quorum or weighted
	// Quorum is k of a k-of-n quorum: approve once k participants approved.
	Quorum int `json:"quorum,omitempty"`
	// Weights per participant (weighted; 1 when left out) and the approving
	// weight needed (Threshold).
	Weights   map[string]int `json:"weights,omitempty"`
	Threshold int            `json:"threshold,omitempty"`
}

// Vote is one participant's vote.
type Vote struct {
	Participant string    `json:"participant"`
	Choice      string    `json:"choice"`
	Score       int       `json:"score"`
	Rationale   string    `json:"rationale,omitempty"` // participant-written text, cleaned and bounded
	At          time.Time `json:"at"`
}

// Room is a session's decision room.
type Room struct {
	Participants []string `json:"participants"`
	Rule         RoomRule `json:"rule"`
	// EscalateTo names the person who decides alone when the scores of the
	// votes spread by more than Disagreement points (0: never escalate).
	EscalateTo   string      `json:"escalate_to,omitempty"`
	Disagreement int         `json:"disagreement,omitempty"`
	Price        anp.Money   `json:"price"` // the price the room decides on
	OpenedBy     string      `json:"opened_by"`
	OpenedAt     time.Time   `json:"opened_at"`
	Deadline     time.Time   `json:"deadline"` // pending at the deadline means deny
	Votes        []Vote      `json:"votes"`
	Outcome      RoomOutcome `json:"outcome"`
	DecidedAt    time.Time   `json:"decided_at,omitzero"`
	StopReason   string      `json:"stop_reason,omitempty"`
}

// RoomSpec is what open_decision asks for.
type RoomSpec struct {
	Participants []string
	Rule         RoomRule
	EscalateTo   string
	Disagreement int
	Deadline     time.Duration
}

// newDecision checks spec against the known participants and opens a room
// for price at now, closing at the earlier of now+spec.Deadline and the
// session's deadline.
func newDecision(spec RoomSpec, known func(string) bool, opener string, price anp.Money, now, sessionDeadline time.Time) (*Room, error) {
	if err := checkParticipants(spec.Participants, known); err != nil {
		return nil, err
	}
	if err := checkRule(spec.Rule, spec.Participants); err != nil {
		return nil, err
	}
	if spec.EscalateTo != "" && !known(spec.EscalateTo) {
		return nil, fmt.Errorf("%w: escalate_to %q", ErrUnknownParticipant, clipText(spec.EscalateTo, maxParticipantID))
	}
	if spec.Disagreement < 0 || spec.Disagreement > MaxScore || (spec.Disagreement > 0 && spec.EscalateTo == "") {
		return nil, fmt.Errorf("%w: disagreement must be 0..%d and needs escalate_to", ErrInvalidRoom, MaxScore)
	}
	if spec.Deadline < MinRoomDeadline || spec.Deadline > MaxRoomDeadline {
		return nil, fmt.Errorf("%w: the deadline must be between %s and %s", ErrInvalidRoom, MinRoomDeadline, MaxRoomDeadline)
	}
	deadline := now.Add(spec.Deadline)
	if sessionDeadline.Before(deadline) {
		deadline = sessionDeadline
	}
	return &Room{Participants: slices.Clone(spec.Participants), Rule: spec.Rule, EscalateTo: spec.EscalateTo,
		Disagreement: spec.Disagreement, Price: price, OpenedBy: opener, OpenedAt: now, Deadline: deadline,
		Votes: []Vote{}, Outcome: RoomPending}, nil
}

func checkParticipants(names []string, known func(string) bool) error {
	if len(names) == 0 || len(names) > MaxParticipants {
		return fmt.Errorf("%w: 1 to %d participants", ErrInvalidRoom, MaxParticipants)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !known(n) {
			return fmt.Errorf("%w: %q is not configured on this server", ErrUnknownParticipant, clipText(n, maxParticipantID))
		}
		if seen[n] {
			return fmt.Errorf("%w: %q is listed twice", ErrInvalidRoom, n)
		}
		seen[n] = true
	}
	return nil
}

func checkRule(r RoomRule, names []string) error {
	switch r.Kind {
	case RuleUnanimity:
		if r.Quorum != 0 || r.Weights != nil || r.Threshold != 0 {
			return fmt.Errorf("%w: unanimity takes no quorum, weights or threshold", ErrInvalidRoom)
		}
	case RuleQuorum:
		if r.Quorum < 1 || r.Quorum > len(names) || r.Weights != nil || r.Threshold != 0 {
			return fmt.Errorf("%w: a quorum must be 1..%d (the number of participants), without weights", ErrInvalidRoom, len(names))
		}
	case RuleWeighted:
		return checkWeights(r, names)
	default:
		return fmt.Errorf("%w: rule %q: want unanimity, quorum or weighted", ErrInvalidRoom, clipText(r.Kind, 20))
	}
	return nil
}

// checkWeights checks a weighted rule: weights 0..1000 of participants, a
// threshold the participants' total weight can reach.
func checkWeights(r RoomRule, names []string) error {
	for n, w := range r.Weights {
		if !slices.Contains(names, n) || w < 0 || w > 1000 {
			return fmt.Errorf("%w: weight of %q must be 0..1000 and name a participant", ErrInvalidRoom, clipText(n, maxParticipantID))
		}
	}
	total := 0
	for _, n := range names {
		total += r.weight(n)
	}
	if r.Threshold < 1 || r.Threshold > total {
		return fmt.Errorf("%w: the threshold must be 1..%d (the total weight)", ErrInvalidRoom, total)
	}
	return nil
}

// weight is a participant's weight (1 when not given).
func (r RoomRule) weight(name string) int {
	if w, ok := r.Weights[name]; ok {
		return w
	}
	return 1
}

// settle returns the room as it stands at now: a pending or escalated room
// past its deadline decided deny. d is not changed.
func (d *Room) settle(now time.Time) *Room {
	if d.decided() || now.Before(d.Deadline) {
		return d
	}
	out := *d
	out.Outcome, out.DecidedAt, out.StopReason = RoomDenied, d.Deadline, "timeout: the deadline passed without a decision"
	return &out
}

func (d *Room) decided() bool { return d.Outcome == RoomApproved || d.Outcome == RoomDenied }

// cast records a vote by participant (the authenticated caller) at now and
// aggregates. The room must be settled at now first.
func (d *Room) cast(participant string, v Vote, now time.Time) error {
	if d.decided() {
		return fmt.Errorf("%w: it decided %s (%s)", ErrRoomDecided, d.Outcome, d.StopReason)
	}
	inRoom := slices.Contains(d.Participants, participant)
	if d.Outcome == RoomEscalated {
		if participant != d.EscalateTo {
			return fmt.Errorf("%w: the room escalated to %s, who decides alone", ErrNotParticipant, d.EscalateTo)
		}
	} else if !inRoom {
		return fmt.Errorf("%w: %q", ErrNotParticipant, clipText(participant, maxParticipantID))
	}
	for _, old := range d.Votes { // once escalated, the named person's one vote decides the room
		if old.Participant == participant && d.Outcome != RoomEscalated {
			return fmt.Errorf("%w: %s voted %s at %s", ErrAlreadyVoted, participant, old.Choice, old.At.Format(time.RFC3339))
		}
	}
	if err := checkVote(v); err != nil {
		return err
	}
	v.Participant, v.At = participant, now
	v.Rationale = anp.CleanText(v.Rationale, MaxRationale)
	d.Votes = append(d.Votes, v)
	d.aggregate(now)
	return nil
}

func checkVote(v Vote) error {
	if v.Choice != ChoiceApprove && v.Choice != ChoiceDeny {
		return fmt.Errorf("%w: choice %q: want approve or deny", ErrInvalidVote, clipText(v.Choice, 20))
	}
	if v.Score < 0 || v.Score > MaxScore {
		return fmt.Errorf("%w: score %d: want 0..%d", ErrInvalidVote, v.Score, MaxScore)
	}
	if len(v.Rationale) > MaxRationale {
		return fmt.Errorf("%w: the rationale is %d bytes, at most %d", ErrInvalidVote, len(v.Rationale), MaxRationale)
	}
	return nil
}

// aggregate applies the rule after a vote.
func (d *Room) aggregate(now time.Time) {
	decide := func(o RoomOutcome, why string) {
		d.Outcome, d.DecidedAt, d.StopReason = o, now, why
	}
	if d.Outcome == RoomEscalated { // the escalation's one vote decides
		last := d.Votes[len(d.Votes)-1]
		decide(RoomOutcome(last.Choice), "escalated: "+last.Participant+" decided")
		return
	}
	if d.Disagreement > 0 && d.scoreSpread() > d.Disagreement {
		d.Outcome, d.DecidedAt = RoomEscalated, now
		d.StopReason = fmt.Sprintf("escalated to %s: the scores spread by %d points, more than %d", d.EscalateTo, d.scoreSpread(), d.Disagreement)
		return
	}
	approve, deny, total := d.tally()
	need := d.need(total)
	switch {
	case approve >= need:
		decide(RoomApproved, fmt.Sprintf("%s: %d of %d approving weight reached", d.Rule.Kind, approve, need))
	case total-deny < need:
		decide(RoomDenied, fmt.Sprintf("%s: %d approving weight can no longer be reached", d.Rule.Kind, need))
	}
}

// tally sums the approving and denying weight and the total weight.
func (d *Room) tally() (approve, deny, total int) {
	for _, n := range d.Participants {
		total += d.weight(n)
	}
	for _, v := range d.Votes {
		if v.Choice == ChoiceApprove {
			approve += d.weight(v.Participant)
		} else {
			deny += d.weight(v.Participant)
		}
	}
	return approve, deny, total
}

func (d *Room) weight(n string) int {
	if d.Rule.Kind == RuleWeighted {
		return d.Rule.weight(n)
	}
	return 1
}

// need is the approving weight that decides approve.
func (d *Room) need(total int) int {
	switch d.Rule.Kind {
	case RuleQuorum:
		return d.Rule.Quorum
	case RuleWeighted:
		return d.Rule.Threshold
	}
	return total
}

// scoreSpread is the highest score minus the lowest (0 with fewer than two votes).
func (d *Room) scoreSpread() int {
	if len(d.Votes) < 2 {
		return 0
	}
	lo, hi := MaxScore, 0
	for _, v := range d.Votes {
		lo, hi = min(lo, v.Score), max(hi, v.Score)
	}
	return hi - lo
}

// approvers names the participants who voted approve.
func (d *Room) approvers() string {
	var names []string
	for _, v := range d.Votes {
		if v.Choice == ChoiceApprove {
			names = append(names, v.Participant)
		}
	}
	return strings.Join(names, ", ")
}
