package buyer_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

func TestExportImportRoundTrip(t *testing.T) {
	m := startMarket(t, threeSellers())
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	a := newCore(t, m, coreOpts{identity: id})
	ctx := ctxT(t)
	s, err := a.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Toaster", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = a.Counter(ctx, s.ID, anptest.USD(7000), ""); err != nil {
		t.Fatal(err)
	}
	sealed, err := a.ExportSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bytesContain(sealed, s.ID) || bytesContain(sealed, "Toaster") {
		t.Fatal("export is not sealed: plaintext visible")
	}

	// A fresh engine (another pod) with the same identity continues the session.
	b := newCore(t, m, coreOpts{identity: id, sessions: memstore.NewSessions()})
	n, err := b.ImportSessions(ctx, sealed)
	if err != nil || n != 1 {
		t.Fatalf("import = %d, %v", n, err)
	}
	got, err := b.GetSession(ctx, s.ID)
	if err != nil || got.Turn != s.Turn || got.State != s.State || got.TranscriptLen != s.TranscriptLen {
		t.Fatalf("imported session = %+v, %v; want %+v", got, err, s)
	}
	got, err = b.Negotiate(ctx, s.ID, concession.Default())
	if err != nil || got.State != buyer.StateConfirmed {
		t.Fatalf("continue on the second engine: %s %v", got.State, err)
	}
	art, err := b.ApproveAndSign(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyArtifact(art, anp.VerifyOptions{RootKey: m.RootKey}); err != nil {
		t.Fatal(err)
	}

	// Tampering anywhere, or another identity, rejects the export whole.
	for _, i := range []int{0, 5, len(sealed) / 2, len(sealed) - 1} {
		bad := append([]byte(nil), sealed...)
		bad[i] ^= 0x01
		c := newCore(t, m, coreOpts{identity: id, sessions: memstore.NewSessions()})
		if _, err := c.ImportSessions(ctx, bad); err == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
		if all, _ := c.ListSessions(ctx); len(all) != 0 {
			t.Fatalf("tampered import wrote %d sessions", len(all))
		}
	}
	other := newCore(t, m, coreOpts{sessions: memstore.NewSessions()})
	if _, err := other.ImportSessions(ctx, sealed); err == nil {
		t.Fatal("export opened with another identity")
	}
}

func bytesContain(b []byte, s string) bool { return strings.Contains(string(b), s) }

// An export holds no null (strict decoding refuses one): an engine with no
// sessions exports "sessions":[], and a payload with a null member, sealed
// under the right identity, is refused naming the member.
func TestExportHoldsNoNull(t *testing.T) {
	m := startMarket(t, threeSellers())
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	a := newCore(t, m, coreOpts{identity: id})
	ctx := ctxT(t)
	sealed, err := a.ExportSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := anp.OpenExport(id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != `{"v":1,"sessions":[]}` {
		t.Fatalf("empty export = %s", plain)
	}
	b := newCore(t, m, coreOpts{identity: id, sessions: memstore.NewSessions()})
	if n, err := b.ImportSessions(ctx, sealed); err != nil || n != 0 {
		t.Fatalf("import of the empty export = %d, %v", n, err)
	}
	withNull, err := anp.SealExport(id, []byte(`{"v":1,"sessions":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.ImportSessions(ctx, withNull); !errors.Is(err, anp.ErrNullMember) || !strings.Contains(err.Error(), "sessions: ") || n != 0 {
		t.Fatalf("import of a null member = %d, %v; want ErrNullMember naming sessions", n, err)
	}
}
