package mcpserver_test

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

func TestCheckBind(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8848", "", true},
		{"localhost:8848", "", true},
		{"[::1]:8848", "", true},
		{"0.0.0.0:8848", "", false},
		{"192.0.2.10:8848", "", false},
		{"0.0.0.0:8848", "s3cret-token", true},
		{"nonsense", "", false},
	} {
		err := mcpserver.CheckBind(tc.addr, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("CheckBind(%q, token=%t) = %v", tc.addr, tc.token != "", err)
		}
	}
}

// TestAutoApproveBelow: an autonomous session signs by itself only below the
// configured ceiling.
func TestAutoApproveBelow(t *testing.T) {
	for _, tc := range []struct {
		ceiling float64
		want    string
	}{{200, "SIGNED"}, {50, "CONFIRMED"}} {
		h := newHarness(t, harnessOpts{autoApproveBelow: usdMoney(tc.ceiling)})
		d := &tools.Deps{Core: h.core, Decider: strategyDecider(), Logger: zerolog.Nop()}
		c := inProcess(t, mcpserver.New(d, zerolog.Nop()).MCPServer)
		var s snap
		callOK(t, c, "propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100, "autonomous": true}, &s)
		if s.State != tc.want {
			t.Errorf("ceiling %v: state %s, want %s", tc.ceiling, s.State, tc.want)
		}
	}
}
