package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/registry"
)

func TestRegistryLimitFlags(t *testing.T) {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f registryLimitFlags
	f.register(fs)
	args := []string{"--auth-rate", "5", "--auth-burst", "7", "--session-rate", "-1", "--max-ws-per-identity", "3",
		"--trusted-proxies", "10.0.0.0/8,192.0.2.1", "--endpoint-ports", "9443", "--session-ttl", "2h",
		"--max-session-bytes", "65536", "--report-rate", "0.5", "--report-burst", "4"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var cfg registry.Config
	if err := f.apply(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.AuthRate != 5 || cfg.AuthBurst != 7 || cfg.SessionRate != -1 || cfg.ReportRate != 0.5 || cfg.ReportBurst != 4 || cfg.MaxWSPerIdentity != 3 || cfg.SessionTTL != 2*time.Hour || cfg.MaxSessionBytes != 64<<10 ||
		cfg.WSUpgradeBurst != registry.DefaultWSUpgradeBurst || len(cfg.EndpointPorts) != 1 || cfg.EndpointPorts[0] != 9443 ||
		len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[1] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Fatalf("config %+v", cfg)
	}
}

func TestRegistryRefusesBadLimitFlags(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--trusted-proxies", "10.0.0.0/8,proxy.example", "--trusted-proxies"},
		{"--endpoint-ports", "8080,http", "--endpoint-ports"},
		{"--max-session-bytes", "4096", "--max-session-bytes"},
	} {
		env, _, _ := testEnv(t, nil)
		err := run(context.Background(), env, []string{"registry", "--open-enrollment", "--addr", "127.0.0.1:0", tc.flag, tc.value})
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("registry %s %s: %v, want exit 2 naming the flag", tc.flag, tc.value, err)
		}
	}
}
