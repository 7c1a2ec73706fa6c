package tools

import (
	"fmt"
	"strings"
	"testing"

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
