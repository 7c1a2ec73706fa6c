package buyer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

var roomT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func known(n string) bool { return n == "alice" || n == "bob" || n == "carol" || n == "dave" }

func openRoom(t *testing.T, spec RoomSpec) *Room {
	t.Helper()
	if spec.Deadline == 0 {
		spec.Deadline = time.Hour
	}
	d, err := newDecision(spec, known, "alice", anp.Money{Amount: 9400, Currency: "USD"}, roomT0, roomT0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type ballot struct {
	who    string
	choice string
	score  int
	err    error
}

func TestRoomAggregation(t *testing.T) {
	three := []string{"alice", "bob", "carol"}
	tests := []struct {
		name    string
		spec    RoomSpec
		votes   []ballot
		outcome RoomOutcome
	}{
		{"2-of-3 approves at the second approve", RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleQuorum, Quorum: 2}},
			[]ballot{{"alice", "approve", 8, nil}, {"bob", "approve", 7, nil}, {"carol", "deny", 2, ErrRoomDecided}}, RoomApproved},
		{"2-of-3 denies once two deny", RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleQuorum, Quorum: 2}},
			[]ballot{{"alice", "deny", 2, nil}, {"bob", "deny", 3, nil}}, RoomDenied},
		{"2-of-3 pending after one approve and one deny", RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleQuorum, Quorum: 2}},
			[]ballot{{"alice", "approve", 6, nil}, {"bob", "deny", 5, nil}}, RoomPending},
		{"unanimity denies at the first deny", RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleUnanimity}},
			[]ballot{{"alice", "approve", 9, nil}, {"bob", "deny", 8, nil}}, RoomDenied},
		{"unanimity approves when all approve", RoomSpec{Participants: []string{"alice", "bob"}, Rule: RoomRule{Kind: RuleUnanimity}},
			[]ballot{{"alice", "approve", 9, nil}, {"bob", "approve", 8, nil}}, RoomApproved},
		{"weighted: the heavy vote decides", RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleWeighted, Weights: map[string]int{"alice": 3}, Threshold: 3}},
			[]ballot{{"bob", "approve", 7, nil}, {"alice", "approve", 7, nil}}, RoomApproved},
		{"weighted: denied when the threshold is out of reach", RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleWeighted, Weights: map[string]int{"alice": 3}, Threshold: 4}},
			[]ballot{{"alice", "deny", 1, nil}}, RoomDenied},
		{"a repeated vote is refused", RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleQuorum, Quorum: 3}},
			[]ballot{{"alice", "approve", 8, nil}, {"alice", "approve", 8, ErrAlreadyVoted}}, RoomPending},
		{"an outsider is refused", RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleQuorum, Quorum: 2}},
			[]ballot{{"dave", "approve", 8, ErrNotParticipant}}, RoomPending},
		{"a spread beyond the threshold escalates, then the named person decides alone",
			RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleQuorum, Quorum: 3}, EscalateTo: "dave", Disagreement: 4},
			[]ballot{{"alice", "approve", 9, nil}, {"bob", "approve", 2, nil}, {"carol", "approve", 5, ErrNotParticipant}, {"dave", "deny", 3, nil}}, RoomDenied},
		{"bad votes are refused", RoomSpec{Participants: three, Rule: RoomRule{Kind: RuleQuorum, Quorum: 2}},
			[]ballot{{"alice", "maybe", 5, ErrInvalidVote}, {"alice", "approve", 11, ErrInvalidVote}}, RoomPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openRoom(t, tt.spec)
			for i, b := range tt.votes {
				err := d.cast(b.who, Vote{Choice: b.choice, Score: b.score, Rationale: "because"}, roomT0.Add(time.Duration(i+1)*time.Minute))
				if !errors.Is(err, b.err) {
					t.Fatalf("vote %d by %s: err = %v, want %v", i, b.who, err, b.err)
				}
			}
			if d.Outcome != tt.outcome {
				t.Fatalf("outcome = %s (%s), want %s", d.Outcome, d.StopReason, tt.outcome)
			}
		})
	}
}

func TestRoomDeadlineDecidesDeny(t *testing.T) {
	d := openRoom(t, RoomSpec{Participants: []string{"alice", "bob", "carol"}, Rule: RoomRule{Kind: RuleQuorum, Quorum: 2}, Deadline: time.Minute})
	if err := d.cast("alice", Vote{Choice: ChoiceApprove, Score: 8}, roomT0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := d.settle(roomT0.Add(59 * time.Second)).Outcome; got != RoomPending {
		t.Fatalf("before the deadline: %s", got)
	}
	late := d.settle(roomT0.Add(time.Minute))
	if late.Outcome != RoomDenied || d.Outcome != RoomPending {
		t.Fatalf("at the deadline: %s (the original %s)", late.Outcome, d.Outcome)
	}
	if err := late.cast("bob", Vote{Choice: ChoiceApprove, Score: 8}, roomT0.Add(time.Minute)); !errors.Is(err, ErrRoomDecided) {
		t.Fatalf("a vote after the deadline: %v", err)
	}
}

func TestNewDecisionRefusals(t *testing.T) {
	tests := []struct {
		name string
		spec RoomSpec
		want error
	}{
		{"unknown participant", RoomSpec{Participants: []string{"alice", "mallory"}, Rule: RoomRule{Kind: RuleUnanimity}, Deadline: time.Hour}, ErrUnknownParticipant},
		{"twice", RoomSpec{Participants: []string{"alice", "alice"}, Rule: RoomRule{Kind: RuleUnanimity}, Deadline: time.Hour}, ErrInvalidRoom},
		{"quorum too high", RoomSpec{Participants: []string{"alice", "bob"}, Rule: RoomRule{Kind: RuleQuorum, Quorum: 3}, Deadline: time.Hour}, ErrInvalidRoom},
		{"unknown rule", RoomSpec{Participants: []string{"alice"}, Rule: RoomRule{Kind: "dictator"}, Deadline: time.Hour}, ErrInvalidRoom},
		{"no deadline", RoomSpec{Participants: []string{"alice"}, Rule: RoomRule{Kind: RuleUnanimity}}, ErrInvalidRoom},
		{"disagreement without escalate_to", RoomSpec{Participants: []string{"alice"}, Rule: RoomRule{Kind: RuleUnanimity}, Deadline: time.Hour, Disagreement: 3}, ErrInvalidRoom},
		{"weight of a stranger", RoomSpec{Participants: []string{"alice"}, Rule: RoomRule{Kind: RuleWeighted, Weights: map[string]int{"bob": 2}, Threshold: 1}, Deadline: time.Hour}, ErrInvalidRoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newDecision(tt.spec, known, "alice", anp.Money{Amount: 1, Currency: "USD"}, roomT0, roomT0.Add(time.Hour))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadAnswer(t *testing.T) {
	tests := []struct {
		name    string
		ans     ApprovalAnswer
		outcome string
		err     error
	}{
		{"accept true", ApprovalAnswer{Action: "accept", Content: map[string]any{"approve": true}}, OutcomeApproved, nil},
		{"accept false", ApprovalAnswer{Action: "accept", Content: map[string]any{"approve": false}}, OutcomeDeclined, ErrApprovalDeclined},
		{"decline", ApprovalAnswer{Action: "decline"}, OutcomeDeclined, ErrApprovalDeclined},
		{"cancel", ApprovalAnswer{Action: "cancel"}, OutcomeDeclined, ErrApprovalDeclined},
		{"string yes", ApprovalAnswer{Action: "accept", Content: map[string]any{"approve": "yes"}}, OutcomeInvalid, ErrApprovalInvalid},
		{"no content", ApprovalAnswer{Action: "accept"}, OutcomeInvalid, ErrApprovalInvalid},
		{"extra field", ApprovalAnswer{Action: "accept", Content: map[string]any{"approve": true, "price": 1.0}}, OutcomeInvalid, ErrApprovalInvalid},
		{"unknown action", ApprovalAnswer{Action: "ok", Content: map[string]any{"approve": true}}, OutcomeInvalid, ErrApprovalInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAnswer(tt.ans)
			if got != tt.outcome || !errors.Is(err, tt.err) {
				t.Fatalf("readAnswer = %s, %v; want %s, %v", got, err, tt.outcome, tt.err)
			}
		})
	}
}

// FuzzReadAnswer: only accept with exactly {"approve": true} approves.
func FuzzReadAnswer(f *testing.F) {
	f.Add("accept", "approve", true, "", 0.0)
	f.Add("accept", "approve", false, "x", 1.0)
	f.Add("decline", "approve", true, "", 0.0)
	f.Add("ACCEPT", "Approve", true, "", 0.0)
	f.Fuzz(func(t *testing.T, action, key string, val bool, extraKey string, extra float64) {
		content := map[string]any{key: val}
		if extraKey != "" {
			content[extraKey] = extra
		}
		outcome, err := readAnswer(ApprovalAnswer{Action: action, Content: content})
		approves := action == "accept" && key == ApprovalField && val && len(content) == 1
		if (outcome == OutcomeApproved) != approves || (err == nil) != approves {
			t.Fatalf("readAnswer(%q, %v) = %s, %v", action, content, outcome, err)
		}
	})
}

func TestApprovalQuestionNamesTheDeliveryDeadline(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	q := ApprovalRequest{SessionID: "s", Seller: "kitchen-outlet.anp", Item: "stand mixer", Quantity: 1,
		Price: anp.Money{Amount: 9400, Currency: "USD"}, Deadline: at.Add(time.Hour), AskedAt: at, AnswerBy: at.Add(15 * time.Minute)}
	if got := q.Message(); strings.Contains(got, "must deliver") {
		t.Errorf("no commitment yet, but the question names a delivery deadline: %q", got)
	}
	q.DeliverBy = at.Add(7 * 24 * time.Hour)
	want := "The seller must deliver by 2026-12-07T10:00:00Z."
	if got := q.Message(); !strings.Contains(got, want) {
		t.Errorf("question %q lacks %q", got, want)
	}
}
