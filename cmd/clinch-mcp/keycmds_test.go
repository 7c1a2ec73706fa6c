package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// keygenFile creates a key file with `clinch-mcp keygen` and loads it.
func keygenFile(t *testing.T, path string) {
	t.Helper()
	env, _, _ := testEnv(t, nil)
	if err := run(context.Background(), env, []string{"keygen", "--out", path}); err != nil {
		t.Fatal(err)
	}
}

// writeSellerConfig writes a seller config for domain with keyFile at
// path, mode 0600.
func writeSellerConfig(t *testing.T, path, domain, keyFile, registryURL, grant string) {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"domain": domain, "key_file": keyFile, "registry": registryURL, "listen": "127.0.0.1:0",
		"endpoint": "http://127.0.0.1:9/anp", "categories": []string{"kitchen"}, "grant": grant,
		"policy": map[string]any{"currency": "USD", "list": "100", "floor": "70"}})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestKeyCommandsEndToEnd: the operator prints a grant with the registry's
// root key file; the seller binds with it; a seller config readable by
// others is refused by every seller command; `seller rotate` hands the
// domain to a new key, `seller revoke` revokes it, `registry revoke`
// revokes another domain as the operator; monitor --watch prints the
// domain's key events, verified.
func TestKeyCommandsEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rootFile := filepath.Join(dir, "registry.key")
	keygenFile(t, rootFile)
	root, err := secrets.LoadIdentityFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := registry.New(ctx, registry.Config{Root: root, Difficulty: 4, AllowPrivateEndpoints: true, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })

	grantFor := func(domain string) string {
		env, out, errb := testEnv(t, nil)
		if err := run(ctx, env, []string{"registry", "grant", domain, "--key-file", rootFile, "--ttl", "2h"}); err != nil {
			t.Fatalf("registry grant: %v", err)
		}
		if !strings.Contains(errb.String(), "enrolment grant for "+strings.ToLower(domain)) || !strings.Contains(errb.String(), "single use") {
			t.Fatalf("registry grant stderr: %s", errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	env, _, _ := testEnv(t, nil)
	for _, args := range [][]string{{"registry", "grant", "shop.anp", "--key-file", rootFile, "--ttl", "800h"}, {"registry", "grant", "--key-file", rootFile}} {
		var ee *exitError
		if err := run(ctx, env, args); !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: err = %v, want exit 2", args, err)
		}
	}
	if err := run(ctx, env, []string{"registry", "grant", "shop.anp", "--key-file", filepath.Join(dir, "missing.key")}); err == nil {
		t.Error("registry grant with a missing root key file succeeded")
	}

	oldKey, newKey := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	keygenFile(t, oldKey)
	keygenFile(t, newKey)
	cfg := filepath.Join(dir, "seller.json")
	grant := grantFor("Shop.anp")
	writeSellerConfig(t, cfg, "shop.anp", oldKey, ts.URL, grant)
	old, _ := secrets.LoadIdentityFile(oldKey)
	if _, err := registry.NewClient(ts.URL, old, registry.ClientOptions{}).Bind(ctx, "shop.anp", grant); err != nil {
		t.Fatalf("bind with the printed grant: %v", err)
	}

	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"seller", "--config", cfg}, {"seller", "rotate", "--config", cfg, "--new-key", newKey}, {"seller", "revoke", "--config", cfg}} {
		err := run(ctx, env, args)
		if err == nil || !strings.Contains(err.Error(), cfg) || !strings.Contains(err.Error(), "0644") || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("%v with a config readable by others: %v, want the file, its mode and chmod 600", args[:2], err)
		}
	}
	if err := os.Chmod(cfg, 0o600); err != nil {
		t.Fatal(err)
	}

	renv, rout, _ := testEnv(t, nil)
	if err := run(ctx, renv, []string{"seller", "rotate", "--config", cfg, "--new-key", newKey}); err != nil {
		t.Fatalf("seller rotate: %v", err)
	}
	if !regexp.MustCompile(`key event 1 of shop\.anp at log index \d+: rotate [0-9a-f]{12}… -> [0-9a-f]{12}… \(signed by both keys\)`).MatchString(rout.String()) ||
		!strings.Contains(rout.String(), `set "key_file" in `+cfg+" to "+newKey) {
		t.Fatalf("seller rotate output:\n%s", rout)
	}
	if err := run(ctx, renv, []string{"seller", "revoke", "--config", cfg}); anp.CodeOf(err) != anp.CodeConflict {
		t.Fatalf("revoking the rotated-out key: %v, want conflict", err)
	}
	writeSellerConfig(t, cfg, "shop.anp", newKey, ts.URL, "")
	if err := run(ctx, renv, []string{"seller", "revoke", "--config", cfg}); err != nil || !strings.Contains(rout.String(), "key event 2 of shop.anp") {
		t.Fatalf("seller revoke: %v\n%s", err, rout)
	}

	other, _ := secrets.GenerateIdentity()
	if _, err := registry.NewClient(ts.URL, other, registry.ClientOptions{}).Bind(ctx, "other.anp", grantFor("other.anp")); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, renv, []string{"registry", "revoke", "other.anp", "--registry", ts.URL, "--key-file", rootFile}); err != nil ||
		!strings.Contains(rout.String(), "key event 1 of other.anp") || !strings.Contains(rout.String(), "(by the operator)") {
		t.Fatalf("registry revoke: %v\n%s", err, rout)
	}

	menv, mout, _ := testEnv(t, nil)
	if err := run(ctx, menv, []string{"monitor", "--registry", ts.URL, "--registry-key", anp.PublicKeyHex(root.Public().(ed25519.PublicKey)), "--once", "--watch", "shop.anp", "--state", "memory:"}); err != nil {
		t.Fatalf("monitor --watch: %v\n%s", err, mout)
	}
	for _, want := range []string{"key event 0 of shop.anp at log index 0: bind ", "key event 1 of shop.anp", "key event 2 of shop.anp"} {
		if !strings.Contains(mout.String(), want) {
			t.Errorf("monitor output lacks %q:\n%s", want, mout)
		}
	}
	if strings.Count(mout.String(), " verified") != 3 || strings.Contains(mout.String(), "other.anp") {
		t.Errorf("monitor --watch shop.anp: want its 3 key events verified and nothing of other.anp:\n%s", mout)
	}
}

// TestDoctorReportsARefusedKeyChange: a key change the buyer refused is
// kept with the pins of the registry, and doctor reports it as a problem.
func TestDoctorReportsARefusedKeyChange(t *testing.T) {
	env, out, _ := testEnv(t, map[string]string{"OLLAMA_HOST": "http://127.0.0.1:1"})
	reg := "http://127.0.0.1:1"
	pins := buyer.NewFilePins(pinsPathFor(dataDir(env), reg))
	ctx := context.Background()
	if err := pins.Save(ctx, "shop.anp", buyer.PinRecord{Pin: anp.KeyState{Domain: "shop.anp", Key: strings.Repeat("ab", 32), Next: 1},
		Refused: &buyer.KeyRefusal{Seen: strings.Repeat("cd", 32), Reason: "forbidden: seller key changed without a logged rotation: seller shop.anp", At: 1735689600000}}); err != nil {
		t.Fatal(err)
	}
	err := run(ctx, env, []string{"doctor", "--registry", reg})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("doctor: %v, want exit 1", err)
	}
	for _, want := range []string{"seller keys: PROBLEM: a key change of shop.anp was refused at 2025-01-01T00:00:00Z", "the listing showed key cdcdcdcdcdcd…", "seller key changed without a logged rotation"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}
