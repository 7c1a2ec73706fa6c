package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

var sessionRe = regexp.MustCompile(`session ([0-9a-f]{32}) with`)

// negotiateProc runs `clinch-mcp negotiate --auto --approve` as a process
// and returns the session id of the signed deal.
func negotiateProc(t *testing.T, m *market, domain string) string {
	t.Helper()
	cmd := exec.Command(binary, "negotiate", "--registry", m.registryURL, "--registry-key", m.rootKey, "--to", "ANP/C."+domain,
		"--item", "Blender", "--max-budget", "100", "--auto", "--approve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CLINCH_DATA_DIR=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("negotiate with %s: %v\n%s", domain, err, out)
	}
	sm := sessionRe.FindStringSubmatch(string(out))
	if sm == nil || !strings.Contains(string(out), "SIGNED") {
		t.Fatalf("negotiate with %s signed no deal:\n%s", domain, out)
	}
	return sm[1]
}

// fulfil has the seller node's identity (its key file) log the FULFILL of
// session, as a seller would.
func fulfil(t *testing.T, m *market, domain, session string) {
	t.Helper()
	key, err := secrets.LoadIdentityFile(filepath.Join(m.dir, domain+".key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := registry.NewClient(m.registryURL, key, registry.ClientOptions{RootKey: m.rootKey, Logger: zerolog.Nop()})
	st, err := c.DealStatus(ctx, session)
	if err != nil {
		t.Fatalf("deal status of %s: %v", session, err)
	}
	l := st.Lifecycle
	env, err := anp.Seal(key, anp.EnvelopeSpec{Type: anp.TypeFulfill, Session: session, Seq: l.Seq + 1, Prev: l.Head, To: l.BuyerKey,
		Body: &anp.FulfilBody{Deal: l.Deal, Evidence: anp.HashBytes([]byte("tracking " + session))}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitDealEvent(ctx, env); err != nil {
		t.Fatalf("FULFILL of %s: %v", session, err)
	}
}

// TestReputationCLIMatchesTheRegistry: a registry and two sellers run as
// processes; three deals are negotiated by `clinch-mcp negotiate`
// processes and two of them delivered. `clinch-mcp reputation` run as a
// separate process recomputes every score from the log entries and prints
// them; its JSON equals, figure for figure, what the registry serves for
// the same time, and its text run says the registry serves the same
// figures; with a DOMAIN too.
func TestReputationCLIMatchesTheRegistry(t *testing.T) {
	m := startMarket(t, sellerSpec{domain: "kitchen-outlet.anp"}, sellerSpec{domain: "chef-supply.anp"})
	k1 := negotiateProc(t, m, "kitchen-outlet.anp")
	negotiateProc(t, m, "kitchen-outlet.anp")
	c1 := negotiateProc(t, m, "chef-supply.anp")
	fulfil(t, m, "kitchen-outlet.anp", k1)
	fulfil(t, m, "chef-supply.anp", c1)

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"reputation", "--registry", m.registryURL, "--registry-key", m.rootKey, "--state", "memory:"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("clinch-mcp reputation %v: %v\n%s%s", args, err, out, stderr)
		}
		return string(out)
	}
	var cli reputation.Report
	if err := json.Unmarshal([]byte(run("--json")), &cli); err != nil {
		t.Fatal(err)
	}
	served := getJSON(t, fmt.Sprintf("%s%s?at=%d", m.registryURL, anp.RouteReputation, cli.At))
	if !reflect.DeepEqual(normalise(t, cli), served) {
		t.Fatalf("the CLI's recomputation differs from the registry:\n cli %+v\n registry %v", cli, served)
	}
	scores := map[reputation.Party]reputation.Score{}
	for _, s := range cli.Parties {
		scores[s.Party] = s
	}
	ko, cs := scores["kitchen-outlet.anp"], scores["chef-supply.anp"]
	if ko.Evidence.Deals != 2 || ko.Evidence.OnTime != 1 || ko.Evidence.Awaiting != 1 || cs.Evidence.OnTime != 1 || ko.Score <= 50 || cs.Score <= 50 || cli.LogSize == 0 {
		t.Fatalf("recomputed: kitchen-outlet %+v, chef-supply %+v over %d entries", ko, cs, cli.LogSize)
	}
	t.Logf("clinch-mcp reputation (separate process) = registry over %d log entries: kitchen-outlet.anp %.6f, chef-supply.anp %.6f, %d parties, %d pairs",
		cli.LogSize, ko.Score, cs.Score, len(cli.Parties), len(cli.Pairs))
	if out := run(); !strings.Contains(out, "the registry serves the same figures") || !strings.Contains(out, fmt.Sprintf("seller kitchen-outlet.anp score %.6f", ko.Score)) {
		t.Fatalf("text run:\n%s", out)
	}
	if out := run("chef-supply.anp"); !strings.Contains(out, "the registry serves the same figures") {
		t.Fatalf("DOMAIN run:\n%s", out)
	}
}

func getJSON(t *testing.T, url string) any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", url, resp.StatusCode, err, data)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func normalise(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
