package cluster_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// TestDealLifecycleSurvivesKill9MidResolution: real processes — a registry
// on Postgres, a seller node, an MCP server. A deal is fulfilled with
// `clinch-mcp fulfil` and confirmed with confirm_delivery; another is
// disputed with open_dispute and the operator resolves it with `clinch-mcp
// arbiter resolve`. The test holds a row lock on the dispute's index entry,
// so the registry blocks right after it appended the RESOLVE's leaf, and
// kills it there (SIGKILL). After a restart nothing is lost and nothing is
// logged twice: one RESOLVE leaf, the deal resolved, a second resolution
// refused, and `clinch-mcp verify` replays the whole lifecycle.
func TestDealLifecycleSurvivesKill9MidResolution(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t)
	m := &market{dir: t.TempDir(), regAddr: freeAddr(t), db: dsn}
	m.registryURL = "http://" + m.regAddr
	arbiterKey := filepath.Join(m.dir, "arbiter.key")
	m.registryArgs = []string{"--arbiter-key-file", arbiterKey}
	m.startRegistry(t)
	sellerState := t.TempDir()
	m.startSeller(t, sellerSpec{domain: "kitchen-outlet.anp", stateDir: sellerState})
	p := startPod(t, "serve", m, newKeyFile(t), "sqlite://"+filepath.Join(t.TempDir(), "sessions.db"))
	ctx := context.Background()

	delivered, disputed := deal(t, p), deal(t, p)
	if out, err := exec.Command(binary, "fulfil", "--state-dir", sellerState, "--session", delivered, "--evidence", "tracking 1Z999AA1").CombinedOutput(); err != nil {
		t.Fatalf("fulfil: %v %s", err, out)
	}
	if c := p.ok("confirm_delivery", map[string]any{"session_id": delivered})["commitment"].(map[string]any); c["state"] != "received" {
		t.Fatalf("after confirm_delivery: %v", c)
	}
	if c := p.ok("open_dispute", map[string]any{"session_id": disputed, "reason": "not_as_described", "severity": 3})["commitment"].(map[string]any); c["state"] != "disputed" {
		t.Fatalf("after open_dispute: %v", c)
	}

	// Block the registry between the RESOLVE's log append and the rest of
	// the resolution, then kill it there.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM kv WHERE bucket = 'disputes' AND key = $1 FOR UPDATE`, disputed); err != nil {
		t.Fatal(err)
	}
	leavesBefore := countLeaves(t, conn)
	arb := []string{"--registry", m.registryURL, "--key-file", arbiterKey, "--registry-key", m.rootKey}
	resolve := exec.Command(binary, append([]string{"arbiter", "resolve", disputed, "--outcome", "for_seller", "--by", "ops@registry"}, arb...)...)
	if err := resolve.Start(); err != nil {
		t.Fatal(err)
	}
	waitLeaves(t, conn, leavesBefore+1) // the RESOLVE is in the log; its lifecycle update waits for the lock
	m.registry.kill()
	_ = resolve.Wait()
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	m.startRegistry(t)
	out, err := exec.Command(binary, append([]string{"arbiter", "show", disputed}, arb...)...).Output()
	if err != nil {
		t.Fatalf("arbiter show: %v", err)
	}
	var st anp.DealStatus
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("arbiter show: %v\n%s", err, out)
	}
	if st.Lifecycle.State != anp.StateResolved || st.Lifecycle.Resolution.DecidedBy.ID != "ops@registry" || len(st.Events) != 2 {
		t.Fatalf("after the crash: %s, %d events, %+v", st.Lifecycle.State, len(st.Events), st.Lifecycle.Resolution)
	}
	if got := countLeaves(t, conn); got != leavesBefore+1 {
		t.Fatalf("log has %d leaves, want %d: the RESOLVE once", got, leavesBefore+1)
	}
	if out, err := exec.Command(binary, append([]string{"arbiter", "resolve", disputed, "--outcome", "for_buyer", "--by", "ops"}, arb...)...).CombinedOutput(); err == nil || !strings.Contains(string(out), "resolved") {
		t.Fatalf("a second resolution: %v %s", err, out)
	}
	if got := countLeaves(t, conn); got != leavesBefore+1 {
		t.Fatalf("the refused second resolution changed the log: %d leaves", got)
	}
	list, err := exec.Command(binary, append([]string{"arbiter", "list"}, arb...)...).Output()
	if err != nil || !strings.Contains(string(list), disputed) || !strings.Contains(string(list), "for_seller by person ops@registry") {
		t.Fatalf("arbiter list: %v %s", err, list)
	}
	resolveLeaves := countResolveLeaves(t, m)
	if resolveLeaves != 1 {
		t.Fatalf("%d RESOLVE leaves in the log, want 1", resolveLeaves)
	}

	// The whole lifecycle verifies offline.
	art := writeArtifact(t, p, disputed)
	artifact, err := os.ReadFile(art)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.json")
	events, _ := json.Marshal(st.Events)
	if err := os.WriteFile(bundle, []byte(`{"artifact":`+string(artifact)+`,"events":`+string(events)+`}`), 0o600); err != nil {
		t.Fatal(err)
	}
	vout, err := exec.Command(binary, "verify", bundle, "--registry-key", m.rootKey).CombinedOutput()
	if err != nil || !strings.Contains(string(vout), "2 deal events replay to resolved") {
		t.Fatalf("verify: %v %s", err, vout)
	}
}

func countLeaves(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM leaves`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitLeaves waits until the log holds want leaves.
func waitLeaves(t *testing.T, conn *pgx.Conn, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for countLeaves(t, conn) < want {
		if time.Now().After(deadline) {
			t.Fatalf("the log never reached %d leaves", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countResolveLeaves reads the whole log through the registry and counts
// the RESOLVE events in it.
func countResolveLeaves(t *testing.T, m *market) int {
	t.Helper()
	ctx := context.Background()
	id, err := secrets.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	c := registry.NewClient(m.registryURL, id, registry.ClientOptions{RootKey: m.rootKey})
	head, err := c.LogHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for from := uint64(0); from < head.Size; {
		leaves, err := c.LogEntries(ctx, from, head.Size)
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range leaves {
			l, err := anp.ParseLogLeaf(data)
			if err != nil {
				t.Fatal(err)
			}
			if l.DealEvent != nil && l.DealEvent.Event.Kind == anp.EventResolve {
				n++
			}
		}
		from += uint64(len(leaves))
	}
	return n
}
