package buyer_test

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/sqlitestore"
)

// TestStoredRecordDecodesStrictly: a session record in SQLite that was
// rewritten behind the engine's back — a second seller key or budget after
// the real one, a case-variant key, a duplicate key inside a stored signed
// envelope, an integer out of range — is refused by every read (the session,
// the list, the export) with ErrCorruptRecord and the named strict-decoding
// failure, instead of being read last-key-wins. The untouched record reads.
func TestStoredRecordDecodesStrictly(t *testing.T) {
	ctx := ctxT(t)
	m := startMarket(t, threeSellers())
	db, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sessions := db.Sessions()
	c := newCore(t, m, coreOpts{sessions: sessions})
	s, err := c.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Toaster", MaxBudget: anptest.USD(10000)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	orig, err := sessions.Load(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	good := string(orig.Data)
	write := func(data string) {
		t.Helper()
		cur, err := sessions.Load(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sessions.Save(ctx, store.SessionRecord{ID: s.ID, Version: cur.Version, Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(old, new string) string {
		t.Helper()
		if !strings.Contains(good, old) {
			t.Fatalf("%q is not in the stored record", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	otherKey := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, data string
		want       error
	}{
		{"second seller key", edit(`"sealed_key":`, `"seller_key":"`+otherKey+`","seller_key":"`+otherKey+`","sealed_key":`), anp.ErrDuplicateKey},
		{"second form", edit(`"session":`, `"form":2,"session":`), anp.ErrDuplicateKey},
		{"second budget", edit(`"max_budget":{"amount":10000`, `"max_budget":{"amount":10000,"amount":99999999`), anp.ErrDuplicateKey},
		{"case-variant key", edit(`"sealed_key":`, `"Sealed_Key":`), anp.ErrKeyCase},
		{"duplicate key in a stored envelope", edit(`"nonce":`, `"nonce":"00","nonce":`), anp.ErrDuplicateKey},
		{"integer out of range", regexp.MustCompile(`"max_turns":\d+`).ReplaceAllString(good, `"max_turns":9007199254740993`), anp.ErrIntegerRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.data)
			_, getErr := c.GetSession(ctx, s.ID)
			_, listErr := c.ListSessions(ctx)
			_, exportErr := c.ExportSessions(ctx)
			for op, err := range map[string]error{"GetSession": getErr, "ListSessions": listErr, "ExportSessions": exportErr} {
				if !errors.Is(err, buyer.ErrCorruptRecord) || !errors.Is(err, tc.want) {
					t.Errorf("%s = %v, want ErrCorruptRecord and %v", op, err, tc.want)
				}
				if err != nil && !strings.Contains(err.Error(), s.ID) {
					t.Errorf("%s: %v does not name the session", op, err)
				}
			}
			write(good)
			if got, err := c.GetSession(ctx, s.ID); err != nil || got.ID != s.ID {
				t.Fatalf("the restored record: %v", err)
			}
		})
	}
}
