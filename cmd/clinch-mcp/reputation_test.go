package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// TestReputationRecomputesTheServedScores: after two deals through a real
// registry, reputation recomputes every served score from the log entries
// and says they match; for one domain too. A proxy that raises one served
// score makes it exit with code 5 naming the seller; a proxy that changes
// one log entry makes it exit with code 4.
func TestReputationRecomputesTheServedScores(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := startMarket(ctx, t, demomarket.Options{Root: root})
	env, out, errb := testEnv(t, nil)
	for _, to := range []string{"ANP/C.kitchen-outlet.anp", "ANP/C.kitchen-outlet.anp", "ANP/C.chef-supply.anp"} {
		negotiateWith(ctx, t, env, errb, m, to)
	}
	rep := func(base string, extra ...string) error {
		out.mu.Lock()
		out.b.Reset()
		out.mu.Unlock()
		return run(ctx, env, append([]string{"reputation", "--registry", base, "--registry-key", m.RootKey, "--state", "memory:"}, extra...))
	}
	if err := rep(m.RegistryURL); err != nil {
		t.Fatalf("reputation: %v\n%s", err, out)
	}
	text := out.String()
	if !strings.Contains(text, "the registry serves the same figures") ||
		!regexp.MustCompile(`seller kitchen-outlet\.anp score 50\.000000 .*\(deals 2 completed 0 on_time 0 late 0 awaiting 2 `).MatchString(text) ||
		!regexp.MustCompile(`seller chef-supply\.anp score 50\.000000 .*\(deals 1 completed 0 on_time 0 late 0 awaiting 1 `).MatchString(text) {
		t.Fatalf("reputation output:\n%s", text)
	}
	if err := rep(m.RegistryURL, "kitchen-outlet.anp"); err != nil || !strings.Contains(out.String(), "the registry serves the same figures") {
		t.Fatalf("reputation DOMAIN: %v\n%s", err, out)
	}

	tamper := func(path string, change func([]byte) []byte) string {
		return tamperProxy(t, m.RegistryURL, path, change)
	}
	inflated := tamper(anp.RouteReputation, func(data []byte) []byte {
		var r reputation.Report
		if err := json.Unmarshal(data, &r); err != nil {
			t.Error(err)
			return data
		}
		for i := range r.Parties {
			if r.Parties[i].Party == "chef-supply.anp" {
				r.Parties[i].Score += 0.000001
			}
		}
		data, _ = json.Marshal(r)
		return data
	})
	var ee *exitError
	if err := rep(inflated); !errors.As(err, &ee) || ee.code != exitReputationDiffers || !strings.Contains(out.String(), "DIFFERS: the registry serves seller chef-supply.anp score") {
		t.Fatalf("inflated score: err = %v, want exit code %d naming chef-supply\n%s", err, exitReputationDiffers, out)
	}
	forged := tamper(anp.RouteEntries, func(data []byte) []byte {
		var er anp.EntriesResponse
		if err := json.Unmarshal(data, &er); err != nil {
			t.Error(err)
			return data
		}
		er.Entries[len(er.Entries)-1][0] ^= 1
		data, _ = json.Marshal(er)
		return data
	})
	if err := rep(forged); !errors.As(err, &ee) || ee.code != exitEntries {
		t.Fatalf("tampered entries: err = %v, want exit code %d\n%s", err, exitEntries, out)
	}
}

// tamperProxy is a proxy to base that passes answers on path through change.
func tamperProxy(t *testing.T, base, path string, change func([]byte) []byte) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path != path {
			return nil
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		r.Body.Close()
		data = change(data)
		r.Body = io.NopCloser(bytes.NewReader(data))
		r.ContentLength = int64(len(data))
		r.Header.Set("Content-Length", strconv.Itoa(len(data)))
		return nil
	}
	s := httptest.NewServer(rp)
	t.Cleanup(s.Close)
	return s.URL
}
