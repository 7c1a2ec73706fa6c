package buyer_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/registry/registrytest"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// startSellerNode runs a real seller node for domain with key on loopback,
// registered at registryURL with grant ("" once the domain is bound to
// key, or under open enrollment). stop shuts it down.
func startSellerNode(t *testing.T, registryURL, domain string, key ed25519.PrivateKey, grant string) (stop func()) {
	t.Helper()
	pol := seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(7800), Exponent: 0.5, MaxTurns: 6}
	node, err := seller.NewNode(seller.Config{Domain: domain, Identity: key, Policy: &pol, Categories: []string{"kitchen"},
		Registry: registry.NewClient(registryURL, key, registry.ClientOptions{}), Demo: true, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := node.NewHTTPServer("")
	go func() { _ = hs.Serve(ln) }()
	if _, err := node.Register(ctxT(t), "http://"+ln.Addr().String(), grant); err != nil {
		t.Fatalf("register %s: %v", domain, err)
	}
	var stopped bool
	stop = func() {
		if !stopped {
			stopped = true
			_ = hs.Close()
			node.Close()
		}
	}
	t.Cleanup(stop)
	return stop
}

// newPinningCore is a buyer engine on m's registry that keeps the seller
// keys it pins in pins, its registry requests going through transport
// (nil: directly).
func newPinningCore(t *testing.T, m *demomarket.Market, pins buyer.KeyPins, transport http.RoundTripper) *buyer.Core {
	t.Helper()
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	client := registry.NewClient(m.RegistryURL, id, registry.ClientOptions{HTTP: &http.Client{Timeout: 20 * time.Second, Transport: transport},
		RootKey: m.RootKey, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
	c, err := buyer.New(buyer.Config{Identity: id, Registry: client, KeyPins: pins})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Initialize(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// closeDeal proposes to domain, counters up to CONFIRMED and signs; it
// returns the session as proposed and the notarised artifact.
func closeDeal(t *testing.T, c *buyer.Core, domain string) (buyer.Session, *anp.Artifact) {
	t.Helper()
	ctx := ctxT(t)
	first, err := c.ProposeDeal(ctx, "ANP/C."+domain, buyer.Constraints{Item: "Ninja Blender", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatalf("propose to %s: %v", domain, err)
	}
	s := first
	for _, offer := range []int64{6000, 7000, 8000, 9400} {
		if s.State == buyer.StateConfirmed {
			break
		}
		if s, err = c.Counter(ctx, s.ID, anptest.USD(offer), ""); err != nil {
			t.Fatalf("counter %d: %v", offer, err)
		}
	}
	a, err := c.ApproveAndSign(ctx, s.ID)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	return first, a
}

// TestSellerKeyRotationEndToEnd: a buyer closes a deal with a seller node,
// the seller rotates its key (both keys sign, the registry logs it) and
// restarts with the new key. The old artifact still verifies offline; the
// buyer's next deal is signed with the new key, and that session tells the
// buyer of the rotation and its log index, once. The pin survives a new
// engine on the same pin file.
func TestSellerKeyRotationEndToEnd(t *testing.T) {
	m := startMarket(t, threeSellers())
	ctx := ctxT(t)
	_, k1, _ := ed25519.GenerateKey(rand.Reader)
	_, k2, _ := ed25519.GenerateKey(rand.Reader)
	grant, err := m.Grant("rotating.anp")
	if err != nil {
		t.Fatal(err)
	}
	stop1 := startSellerNode(t, m.RegistryURL, "rotating.anp", k1, grant)
	pinFile := filepath.Join(t.TempDir(), "keypins.json")
	c := newPinningCore(t, m, buyer.NewFilePins(pinFile), nil)

	s1, a1 := closeDeal(t, c, "rotating.anp")
	if a1.Terms.SellerKey != anptest.PubHex(k1) || s1.KeyNotice != "" {
		t.Fatalf("first deal: seller key %s…, notice %q; want the first key and no notice", a1.Terms.SellerKey[:12], s1.KeyNotice)
	}

	entry, err := registry.NewClient(m.RegistryURL, k1, registry.ClientOptions{RootKey: m.RootKey}).RotateKey(ctx, "rotating.anp", k2)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	stop1()
	startSellerNode(t, m.RegistryURL, "rotating.anp", k2, "") // the rotation bound k2: no grant needed

	c = newPinningCore(t, m, buyer.NewFilePins(pinFile), nil) // a restarted buyer: the pin is on disk
	s2, a2 := closeDeal(t, c, "rotating.anp")
	if a2.Terms.SellerKey != anptest.PubHex(k2) {
		t.Fatalf("the deal after the rotation is signed by %s…, want the new key", a2.Terms.SellerKey[:12])
	}
	want := fmt.Sprintf("rotated to key %s… by the seller's previous key at log index %d", anptest.PubHex(k2)[:12], entry.LeafIndex)
	if !strings.Contains(s2.KeyNotice, want) || !strings.Contains(s2.KeyNotice, anptest.PubHex(k1)[:12]) {
		t.Fatalf("notice %q, want it to say %q and name the old key", s2.KeyNotice, want)
	}
	if got, err := c.GetSession(ctx, s2.ID); err != nil || got.KeyNotice != s2.KeyNotice {
		t.Fatalf("stored session notice %q (%v), want the proposal's", got.KeyNotice, err)
	}
	for i, a := range []*anp.Artifact{a1, a2} {
		if err := anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: m.RootKey}); err != nil {
			t.Fatalf("artifact %d does not verify offline: %v", i+1, err)
		}
	}
	if s3, _ := closeDeal(t, c, "rotating.anp"); s3.KeyNotice != "" {
		t.Fatalf("a later session repeats the notice: %q", s3.KeyNotice)
	}
	rec, ok, err := buyer.NewFilePins(pinFile).Load(ctx, "rotating.anp")
	if err != nil || !ok || rec.Pin.Key != anptest.PubHex(k2) || rec.Pin.LeafIndex != entry.LeafIndex || rec.Refused != nil {
		t.Fatalf("pin %+v (%v %v), want the new key at log index %d", rec, ok, err, entry.LeafIndex)
	}
}

// TestSwappedSellerKeyIsRefused: after a deal with kitchen-outlet.anp, the
// registry shows the buyer a listing of that domain bound to another key,
// as an operator can: a registry with the same key chain but a directory
// and log of its own binds the domain to an impostor's seller node, and
// the real registry's listing and key history answers are replaced by its
// answers. No key event in the real log leads there, so the buyer refuses
// the proposal with ErrKeyChanged, sends nothing, and remembers the
// refusal; so does a buyer that never dealt with the seller. When the
// registry answers honestly again, the pinned key works.
func TestSwappedSellerKeyIsRefused(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	ledger := memstore.NewLedger()
	ctx := ctxT(t)
	m, err := demomarket.Start(ctx, demomarket.Options{Sellers: threeSellers(), Difficulty: 4, AsyncDelay: 20 * time.Millisecond,
		Logger: zerolog.Nop(), Root: root, Ledger: ledger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	sw := &registrytest.PathSwitch{}
	pins := &buyer.MemPins{}
	c := newPinningCore(t, m, pins, sw)
	closeDeal(t, c, "kitchen-outlet.anp")

	impostor := registrytest.Impostor(t, root, ledger)
	_, fake, _ := ed25519.GenerateKey(rand.Reader)
	startSellerNode(t, impostor.URL, "kitchen-outlet.anp", fake, "")
	sw.Set(impostor, "/v1/listings/", "/v1/domains/")

	for name, core := range map[string]*buyer.Core{"pinned": c, "first use": newPinningCore(t, m, &buyer.MemPins{}, sw)} {
		before, _ := core.ListSessions(ctx)
		_, err := core.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Ninja Blender", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
		if !errors.Is(err, buyer.ErrRefused) || !errors.Is(err, registry.ErrKeyChanged) || !strings.Contains(err.Error(), "kitchen-outlet.anp") {
			t.Fatalf("%s buyer, swapped key: err = %v, want ErrRefused wrapping registry.ErrKeyChanged naming the seller", name, err)
		}
		t.Logf("%s buyer: %v", name, err)
		if after, _ := core.ListSessions(ctx); len(after) != len(before) {
			t.Fatalf("%s buyer: a refused proposal stored a session", name)
		}
	}
	rec, _, _ := pins.Load(ctx, "kitchen-outlet.anp")
	if rec.Refused == nil || rec.Refused.Seen != anptest.PubHex(fake) || !strings.Contains(rec.Refused.Reason, registry.ErrKeyChanged.Error()) {
		t.Fatalf("the refusal is not remembered for doctor: %+v", rec)
	}
	if rec.Pin.Key == anptest.PubHex(fake) {
		t.Fatal("the impostor's key was pinned")
	}

	sw.Set(nil)
	if _, a := closeDeal(t, c, "kitchen-outlet.anp"); a.Terms.SellerKey != rec.Pin.Key {
		t.Fatalf("honest again: the deal is signed by %s…, want the pinned key", a.Terms.SellerKey[:12])
	}
}

// TestRevokedSellerKeyStopsNewSessions: a seller revokes its key; the
// buyer's next proposal is refused, naming the revocation, and nothing is
// stored. The operator grants the domain again, the seller binds a new key,
// and the buyer deals with it, told of the revocation and the new binding.
func TestRevokedSellerKeyStopsNewSessions(t *testing.T) {
	m := startMarket(t, threeSellers())
	ctx := ctxT(t)
	_, k1, _ := ed25519.GenerateKey(rand.Reader)
	grant, err := m.Grant("revoking.anp")
	if err != nil {
		t.Fatal(err)
	}
	stop1 := startSellerNode(t, m.RegistryURL, "revoking.anp", k1, grant)
	c := newPinningCore(t, m, &buyer.MemPins{}, nil)
	closeDeal(t, c, "revoking.anp")

	revoked, err := registry.NewClient(m.RegistryURL, k1, registry.ClientOptions{RootKey: m.RootKey}).RevokeKey(ctx, "revoking.anp")
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	before, _ := c.ListSessions(ctx)
	_, err = c.ProposeDeal(ctx, "ANP/C.revoking.anp", buyer.Constraints{Item: "Ninja Blender", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if !errors.Is(err, buyer.ErrRefused) || !strings.Contains(err.Error(), "revoked") || !strings.Contains(err.Error(), fmt.Sprintf("log index %d", revoked.LeafIndex)) {
		t.Fatalf("propose to a revoked key: %v, want ErrRefused naming the revocation at log index %d", err, revoked.LeafIndex)
	}
	if after, _ := c.ListSessions(ctx); len(after) != len(before) {
		t.Fatal("a refused proposal stored a session")
	}
	stop1()

	_, k2, _ := ed25519.GenerateKey(rand.Reader)
	if grant, err = m.Grant("revoking.anp"); err != nil {
		t.Fatal(err)
	}
	startSellerNode(t, m.RegistryURL, "revoking.anp", k2, grant)
	s, a := closeDeal(t, c, "revoking.anp")
	if a.Terms.SellerKey != anptest.PubHex(k2) || !strings.Contains(s.KeyNotice, "revoked by the seller") || !strings.Contains(s.KeyNotice, "bound with an enrolment grant") {
		t.Fatalf("deal with the new key: seller key %s…, notice %q", a.Terms.SellerKey[:12], s.KeyNotice)
	}
}
