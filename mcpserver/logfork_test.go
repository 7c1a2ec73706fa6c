package mcpserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/registry/registrytest"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// TestForkedLogIsAToolError: once the registry shows the buyer a log that
// contradicts the head it saw before, propose_deal fails with the tool
// error registry_untrusted naming both roots and its advice, and the
// server logs the fork at error level.
func TestForkedLogIsAToolError(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	ledger := memstore.NewLedger()
	if _, err := ledger.Append(context.Background(), []byte("an earlier entry")); err != nil {
		t.Fatal(err)
	}
	sw := &registrytest.LogSwitch{}
	h := newHarness(t, harnessOpts{root: root, ledger: ledger, transport: sw})
	twin := registrytest.Twin(t, root, ledger, [][]byte{[]byte("other 0"), []byte("other 1"), []byte("other 2")})
	args := map[string]any{"seller": "ANP/C.kitchen-outlet.anp", "item": "Blender", "max_budget": 100}
	var s struct{}
	h.ok("propose_deal", args, &s)
	sw.Set(twin)
	msg := h.fail("propose_deal", args, "registry_untrusted")
	remembered := fmt.Sprintf("size %d root ", 1+len(demomarket.DefaultSellers())) // the earlier entry and each seller's bind event
	for _, want := range []string{"registry log fork", remembered, "size 3 root ", "Do not retry or switch sellers"} {
		if !strings.Contains(msg, want) {
			t.Errorf("tool error lacks %q:\n%s", want, msg)
		}
	}
	logs := h.logText()
	if !strings.Contains(logs, `"level":"error"`) || !strings.Contains(logs, "registry log fork") {
		t.Errorf("no error-level log line names the fork:\n%s", logs)
	}
}
