package tools

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
)

// A forked registry log, as the engine returns it (ErrRefused around the
// registry client's error), is registry_untrusted, not seller_refused: the
// model must not retry with another seller on the same registry. The tool
// error keeps both heads of the message.
func TestForkedLogIsRegistryUntrusted(t *testing.T) {
	fork := &registry.ForkError{Alarm: registry.ForkAlarm{
		Remembered: anp.SignedTreeHead{Size: 3, RootHash: strings.Repeat("aa", 32)},
		Seen:       anp.SignedTreeHead{Size: 5, RootHash: strings.Repeat("bb", 32)},
		Reason:     "consistency proof does not verify",
	}}
	err := fmt.Errorf("propose to shop.anp: %w: %w", buyer.ErrRefused, anp.Errorf(anp.CodeForbidden, "%v", fork))
	if got := classify(err); got != CodeRegistryUntrusted {
		t.Fatalf("classify = %s, want %s", got, CodeRegistryUntrusted)
	}
	text := toolError(err).Content[0].(mcp.TextContent).Text
	for _, want := range []string{"registry_untrusted: ", strings.Repeat("aa", 32), strings.Repeat("bb", 32), advice[CodeRegistryUntrusted]} {
		if !strings.Contains(text, want) {
			t.Errorf("tool error %q lacks %q", text, want)
		}
	}
}

// A seller key the registry's log does not prove, or a revoked one, is
// seller_key_untrusted: nothing was sent and retrying will not help.
func TestUnprovenSellerKeyIsSellerKeyUntrusted(t *testing.T) {
	for _, class := range []error{registry.ErrKeyChanged, registry.ErrKeyRevoked} {
		err := fmt.Errorf("check the key of seller shop.anp: %w: %w", buyer.ErrRefused, anp.Errorf(anp.CodeForbidden, "%v: seller shop.anp: no logged rotation", class))
		if got := classify(err); got != CodeSellerKeyUntrusted {
			t.Fatalf("classify(%v) = %s, want %s", class, got, CodeSellerKeyUntrusted)
		}
		text := toolError(err).Content[0].(mcp.TextContent).Text
		if !strings.HasPrefix(text, "seller_key_untrusted: ") || !strings.Contains(text, "shop.anp") || !strings.Contains(text, advice[CodeSellerKeyUntrusted]) {
			t.Errorf("tool error %q", text)
		}
	}
}

// A logged key change reaches the model: in the snapshot's key_notice and
// in the one-line summary.
func TestSnapshotCarriesTheKeyNotice(t *testing.T) {
	s := buyer.Session{ID: strings.Repeat("ab", 16), Seller: "shop.anp", State: buyer.StateProposed, Turn: 1, MaxTurns: 8,
		MaxBudget: anp.Money{Amount: 100, Currency: "USD"}, KeyNotice: "The key of seller shop.anp changed: rotated at log index 7."}
	if got := Snapshot(s).KeyNotice; got != s.KeyNotice {
		t.Fatalf("snapshot key_notice %q", got)
	}
	if sum := summary(s); !strings.Contains(sum, "Notice: "+s.KeyNotice) {
		t.Fatalf("summary %q lacks the notice", sum)
	}
}

// A registry rate limit is rate_limited, however it reaches the tool layer
// (through the engine's remoteError or not), and the advice repeats the
// Retry-After wait when the registry's answer carried one.
func TestRateLimitedIsRateLimited(t *testing.T) {
	limit := anp.Errorf(anp.CodeRateLimited, "too many new sessions for your identity: at most 1 per second (burst 60); try again in 1s")
	tests := []struct {
		name string
		err  error
		wait string
	}{
		{"through the engine, with Retry-After", fmt.Errorf("send PROPOSE to shop.anp: %w: %w", buyer.ErrRateLimited,
			&registry.RateLimitError{RetryAfter: 7 * time.Second, Err: limit}), "Wait 7 seconds, then"},
		{"through the engine, without Retry-After", fmt.Errorf("discover sellers: %w: %w", buyer.ErrRateLimited, limit), "Wait as long as the message says, then"},
		{"the registry's error alone", limit, "Wait as long as the message says, then"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != CodeRateLimited {
				t.Fatalf("classify = %s, want rate_limited", got)
			}
			text := toolError(tt.err).Content[0].(mcp.TextContent).Text
			if !strings.HasPrefix(text, "rate_limited: ") || !strings.Contains(text, "try again in 1s") || !strings.Contains(text, tt.wait) {
				t.Errorf("tool error %q", text)
			}
		})
	}
}

// Every tool error code has advice and is listed in the README, where a
// user reads what a failed call means.
func TestEveryErrorCodeIsAdvisedAndDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	codes := []ErrorCode{CodeOverBudget, CodeWrongState, CodeConflict, CodeUnknown, CodeNoSellers, CodeUnreachable, CodeRefused,
		CodeInvalidInput, CodeInternal, CodeRegistryUntrusted, CodeSellerKeyUntrusted, CodeRateLimited,
		CodeApprovalRequired, CodeNotApproved, CodeApprovalDenied, CodeVoteRefused, CodeQuestionLimit}
	if len(advice) != len(codes) {
		t.Errorf("advice has %d codes, this test lists %d: add the new code here", len(advice), len(codes))
	}
	for _, c := range codes {
		if advice[c] == "" {
			t.Errorf("%s has no advice", c)
		}
		if !strings.Contains(string(readme), "`"+string(c)+"`") {
			t.Errorf("README.md does not list the tool error %s", c)
		}
	}
}
