package mcpserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

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

// TestHTTPGuards: bearer token required when set, and on loopback a Host
// header that is not a loopback name is refused (DNS rebinding), for both
// HTTP transports.
func TestHTTPGuards(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	srv := mcpserver.New(&tools.Deps{Core: h.core, Logger: zerolog.Nop()}, zerolog.Nop())
	for _, transport := range []string{"http", "sse"} {
		t.Run(transport, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ready := make(chan string, 1)
			o := mcpserver.HTTPOptions{Addr: "127.0.0.1:0", AuthToken: "tok-123456", Logger: zerolog.Nop(), Ready: func(a string) { ready <- a }}
			serve, path := mcpserver.ServeHTTP, "/mcp"
			if transport == "sse" {
				serve, path = mcpserver.ServeSSE, "/sse"
			}
			go func() { _ = serve(ctx, srv, o) }()
			var addr string
			select {
			case addr = <-ready:
			case <-time.After(10 * time.Second):
				t.Fatal("transport did not start")
			}
			do := func(host, auth string) int {
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				if host != "" {
					req.Host = host
				}
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
				defer ccancel()
				resp, err := http.DefaultClient.Do(req.WithContext(cctx))
				if err != nil {
					return -1
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := do("", ""); got != http.StatusUnauthorized {
				t.Errorf("no token: status %d, want 401", got)
			}
			if got := do("", "Bearer wrong"); got != http.StatusUnauthorized {
				t.Errorf("wrong token: status %d, want 401", got)
			}
			if got := do("evil.example.com", "Bearer tok-123456"); got != http.StatusForbidden {
				t.Errorf("rebinding Host: status %d, want 403", got)
			}
			if got := do("", "Bearer tok-123456"); got == http.StatusUnauthorized || got == http.StatusForbidden || got == -1 {
				t.Errorf("valid token: status %d", got)
			}
		})
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
