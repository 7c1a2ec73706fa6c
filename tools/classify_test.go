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
