package cluster_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// TestServeSurvivesKill9: kill -9 of `clinch-mcp serve` mid-negotiation; after
// a restart on the same SQLite store, get_session shows the session exactly
// as it was and the negotiation continues to a verified artifact.
func TestServeSurvivesKill9(t *testing.T) {
	m := startMarket(t, sellerSpec{domain: "kitchen-outlet.anp"})
	key := newKeyFile(t)
	store := "sqlite://" + filepath.Join(t.TempDir(), "sessions.db")
	a := startPod(t, "serve-1", m, key, store)
	s := a.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100})
	id := s["session_id"].(string)
	a.ok("counter", map[string]any{"session_id": id, "price": 60})
	before := a.ok("counter", map[string]any{"session_id": id, "price": 70})
	a.proc.kill()

	b := startPod(t, "serve-2", m, key, store)
	after := b.ok("get_session", map[string]any{"session_id": id})
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("session changed across the crash:\nbefore %v\nafter  %v", before, after)
	}
	b.ok("counter", map[string]any{"session_id": id, "price": 80})
	s = b.ok("counter", map[string]any{"session_id": id, "price": 94})
	if s["state"] != "CONFIRMED" {
		t.Fatalf("state %v", s["state"])
	}
	ap := b.ok("approve_and_sign", map[string]any{"session_id": id})
	if ap["verified"] != true {
		t.Fatalf("approve: %v", ap)
	}
	artifactFile := writeArtifact(t, b, id)
	if out, err := exec.Command(binary, "verify", artifactFile, "--registry-key", m.rootKey).CombinedOutput(); err != nil {
		t.Fatalf("verify: %v %s", err, out)
	}
}

// TestRegistrySurvivesKill9: the registry's ledger and key chain survive a
// crash; earlier artifacts still verify against the pinned root, new deals
// are notarised, and the new log head is a consistent extension of the old.
func TestRegistrySurvivesKill9(t *testing.T) {
	for _, ledger := range []string{"sqlite", "postgres"} {
		t.Run(ledger, func(t *testing.T) { registrySurvivesKill9(t, ledger) })
	}
}

func registrySurvivesKill9(t *testing.T, ledger string) {
	m := &market{dir: t.TempDir(), regAddr: freeAddr(t)}
	m.registryURL = "http://" + m.regAddr
	if ledger == "postgres" {
		m.db, _ = pgtest.NewSchema(t)
	}
	m.startRegistry(t)
	m.startSeller(t, sellerSpec{domain: "kitchen-outlet.anp"})
	key := newKeyFile(t)
	store := "sqlite://" + filepath.Join(t.TempDir(), "sessions.db")
	p := startPod(t, "serve", m, key, store)
	first := deal(t, p)
	firstFile := writeArtifact(t, p, first)
	idKey, err := secrets.LoadIdentityFile(key)
	if err != nil {
		t.Fatal(err)
	}
	rc := registry.NewClient(m.registryURL, idKey, registry.ClientOptions{RootKey: m.rootKey})
	oldHead, err := rc.LogHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	oldRoot := m.rootKey

	m.registry.kill()
	m.startRegistry(t)
	if m.rootKey != oldRoot {
		t.Fatalf("registry root key changed across the restart: %s -> %s", oldRoot, m.rootKey)
	}
	if out, err := exec.Command(binary, "verify", firstFile, "--registry-key", m.rootKey).CombinedOutput(); err != nil {
		t.Fatalf("earlier artifact no longer verifies: %v %s", err, out)
	}
	second := deal(t, p) // the MCP server reconnects and re-authenticates by itself
	if second == first {
		t.Fatal("same session twice")
	}
	newHead, err := rc.LogHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if newHead.Size != oldHead.Size+1 {
		t.Fatalf("log size %d -> %d, want +1", oldHead.Size, newHead.Size)
	}
	proof, err := rc.Consistency(context.Background(), oldHead.Size, newHead.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyConsistency(oldHead, newHead, proof); err != nil {
		t.Fatalf("log was rewritten across the restart: %v", err)
	}
}

// deal runs the kitchen-outlet recipe to a signed artifact and returns the session id.
func deal(t *testing.T, p *pod) string {
	t.Helper()
	s := p.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100})
	id := s["session_id"].(string)
	for _, price := range []float64{60, 70, 80, 94} {
		s = p.ok("counter", map[string]any{"session_id": id, "price": price})
	}
	if s["state"] != "CONFIRMED" {
		t.Fatalf("state %v", s["state"])
	}
	if ap := p.ok("approve_and_sign", map[string]any{"session_id": id}); ap["verified"] != true {
		t.Fatalf("approve: %v", ap)
	}
	return id
}

// writeArtifact reads clinch://artifacts/{id} and writes it to a file.
func writeArtifact(t *testing.T, p *pod, id string) string {
	t.Helper()
	rr, err := p.c.ReadResource(context.Background(), readReq("clinch://artifacts/"+id))
	if err != nil {
		t.Fatal(err)
	}
	text := resourceText(rr)
	var a anp.Artifact
	if err := json.Unmarshal([]byte(text), &a); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), id+".json")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func verifyFile(t *testing.T, file, root string) {
	t.Helper()
	if out, err := exec.Command(binary, "verify", file, "--registry-key", root).CombinedOutput(); err != nil {
		t.Fatalf("verify: %v %s", err, out)
	}
}

func sleep() { time.Sleep(25 * time.Millisecond) }
