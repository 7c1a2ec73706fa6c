package buyer_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// TestImportChecksDealTranscript: an export whose sessions' artifacts are
// not the deals their transcripts bind — two artifacts swapped between
// sessions, or a deal price that is not the seller's ACCEPT — is refused
// whole with ErrCorruptRecord and the protocol code of the failed check,
// and nothing is written; the untouched export imports.
func TestImportChecksDealTranscript(t *testing.T) {
	m := startMarket(t, threeSellers())
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	a := newCore(t, m, coreOpts{identity: id})
	ctx := ctxT(t)
	// Two negotiations alike (same item, a fixed strategy seed, the same
	// seller) have transcripts of one length, so swapping their artifacts
	// leaves only the signatures to tell them apart.
	var lens []int
	for range 2 {
		lens = append(lens, signedSession(ctx, t, a, "Toaster").TranscriptLen)
	}
	if lens[0] != lens[1] {
		t.Fatalf("the two negotiations differ in length (%v): the swap below would be refused for that, not for its signatures", lens)
	}
	sealed, err := a.ExportSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(sessions []map[string]any)
		code anp.Code
	}{
		{"artifacts swapped", func(ss []map[string]any) {
			s0, s1 := sessionOf(ss[0]), sessionOf(ss[1])
			s0["artifact"], s1["artifact"] = s1["artifact"], s0["artifact"]
		}, anp.CodeBadSignature},
		{"price not the ACCEPT's", func(ss []map[string]any) {
			deal := sessionOf(ss[0])["artifact"].(map[string]any)["deal"].(map[string]any)
			deal["price"].(map[string]any)["amount"] = json.Number("1")
		}, anp.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := editExport(t, id, sealed, tc.edit)
			b := newCore(t, m, coreOpts{identity: id, sessions: memstore.NewSessions()})
			n, err := b.ImportSessions(ctx, bad)
			if n != 0 || !errors.Is(err, buyer.ErrCorruptRecord) || anp.CodeOf(err) != tc.code {
				t.Fatalf("import = %d, %v; want ErrCorruptRecord with code %s", n, err, tc.code)
			}
			if all, _ := b.ListSessions(ctx); len(all) != 0 {
				t.Fatalf("a refused import wrote %d sessions", len(all))
			}
		})
	}
	b := newCore(t, m, coreOpts{identity: id, sessions: memstore.NewSessions()})
	if n, err := b.ImportSessions(ctx, editExport(t, id, sealed, func([]map[string]any) {})); err != nil || n != 2 {
		t.Fatalf("the untouched export: %d, %v", n, err)
	}
}

// signedSession negotiates item with kitchen-outlet.anp with a fixed
// strategy seed (the same item negotiates to the same transcript length),
// signs the deal and returns the session as it was before the signature.
func signedSession(ctx context.Context, t *testing.T, c *buyer.Core, item string) buyer.Session {
	t.Helper()
	s, err := c.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: item, MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c.Negotiate(ctx, s.ID, concession.NewAdaptive([]byte("a fixed seed: the same terms negotiate alike"))); err != nil || s.State != buyer.StateConfirmed {
		t.Fatalf("negotiate %s: %s %v", item, s.State, err)
	}
	if _, err := c.ApproveAndSign(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	return s
}

// editExport opens a sealed export, lets edit change its sessions (as
// generic JSON) and seals the result again under the same identity.
func editExport(t *testing.T, id ed25519.PrivateKey, sealed []byte, edit func([]map[string]any)) []byte {
	t.Helper()
	plain, err := anp.OpenExport(id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	var f struct {
		V        int              `json:"v"`
		Sessions []map[string]any `json:"sessions"`
	}
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	edit(f.Sessions)
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	resealed, err := anp.SealExport(id, out)
	if err != nil {
		t.Fatal(err)
	}
	return resealed
}

func sessionOf(exported map[string]any) map[string]any {
	return exported["record"].(map[string]any)["session"].(map[string]any)
}
