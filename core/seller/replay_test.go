package seller

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

const memberSecret = "MEMBER-4471-GOLD"

// sealFor seals the member credential to n for b's session and key.
func sealFor(t *testing.T, n *Node, b *buyer) string {
	t.Helper()
	sealed, err := anp.SealCredential(n.EncryptionKey(), anp.CredentialScope{Session: b.Session, BuyerKey: b.Pub, Domain: testDomain}, memberSecret)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// TestCopiedCredentialRefusedAfterRestart: a stranger copies a member's
// sealed credential from the transcript into a PROPOSE of his own after the
// seller restarted. With the member's session id it is refused because the
// node remembers the id across the restart (its state directory); with the
// state lost it is refused because the credential names the member's
// session key; with a fresh id, because it names the member's session. The
// member deals again at the members-only price.
func TestCopiedCredentialRefusedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	start := func(state string) (*Node, string) {
		n, srv := newTestNode(t, func(c *Config) {
			c.StateDir = state
			c.Policy = &CurvePolicy{List: anptest.USD(8000), Floor: anptest.USD(7000), RequireCredential: true}
		})
		return n, srv.URL
	}
	n, url := start(dir)
	member := newBuyer(t, url)
	offer := anptest.USD(8000)
	p := propose("kettle", &offer)
	p.Credential = sealFor(t, n, member)
	if r := member.send(anp.TypePropose, p); r.Type != anp.TypeAccept {
		t.Fatalf("the member's PROPOSE: %s, want ACCEPT at the members-only price", r.Type)
	}
	envs, _ := n.Transcript(member.Session)
	copied := anptest.Body[anp.ProposeBody](t, envs[0]).Credential
	if copied != p.Credential {
		t.Fatal("the transcript does not hold the sealed credential")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	// After a restart with the same state directory.
	n, url = start(dir)
	stranger := func(session string) result {
		b := newBuyer(t, url)
		if session != "" {
			b.Session = session
		}
		sp := propose("kettle", &offer)
		sp.Credential = copied
		return b.post(anp.SellerHandshake, b.Seal(anp.TypePropose, sp))
	}
	if r := stranger(member.Session); r.status != http.StatusConflict || !strings.Contains(r.err.Message, "was opened at this seller before") {
		t.Fatalf("the copy under the member's session id after a restart: %d %+v, want 409", r.status, r.err)
	}
	if r := stranger(""); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.err.Message, "sealed for another session") {
		t.Fatalf("the copy under a new session id: %d %+v, want 422", r.status, r.err)
	}
	if st := n.Stats(); st.Sessions != 0 || st.UsedSessionIDs != 1 {
		t.Fatalf("stats after the refusals %+v", st)
	}
	// The member's own next deal gets the members-only price.
	again := newBuyer(t, url)
	p2 := propose("kettle", &offer)
	p2.Credential = sealFor(t, n, again)
	if r := again.send(anp.TypePropose, p2); r.Type != anp.TypeAccept || anptest.Body[anp.OfferBody](t, r).Price != offer {
		t.Fatalf("the member after the restart: %s", r.Type)
	}

	// Even with its state lost, the node refuses the copy: it names the member's session key.
	n.Close()
	_, url = start(t.TempDir())
	if r := stranger(member.Session); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.err.Message, "another buyer session key") {
		t.Fatalf("the copy in a stranger's PROPOSE, state lost: %d %+v, want 422", r.status, r.err)
	}
}

// TestUsedSessionsFile: the state file keeps live ids across a restart,
// drops expired ones, ignores the torn last line of a crash, refuses a
// malformed line by number, and is compacted.
func TestUsedSessionsFile(t *testing.T) {
	dir := t.TempDir()
	now := time.UnixMilli(1_735_689_600_000)
	u, err := openUsedSessions(dir, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	live, gone := anp.NewSessionID(), anp.NewSessionID()
	if err := u.remember(live, now.Add(10*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := u.remember(gone, now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if !u.seen(live, now) || !u.seen(gone, now) || u.seen(anp.NewSessionID(), now) {
		t.Fatal("seen disagrees with remember")
	}
	_ = u.close()
	path := filepath.Join(dir, usedSessionsFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(anp.NewSessionID()[:20]) // a crash in the middle of a line
	_ = f.Close()

	later := now.Add(2 * time.Minute)
	u, err = openUsedSessions(dir, later, 100)
	if err != nil {
		t.Fatalf("reopen after a torn line: %v", err)
	}
	if !u.seen(live, later) || u.seen(gone, later) || u.len() != 1 {
		t.Fatalf("after a restart: live %v, expired %v, %d kept", u.seen(live, later), u.seen(gone, later), u.len())
	}
	data, _ := os.ReadFile(path)
	if want := live + " " + "1735690200000\n"; string(data) != want {
		t.Fatalf("compacted file %q, want %q", data, want)
	}
	// Full: a new id is refused rather than an old one forgotten.
	for range 99 {
		if err := u.remember(anp.NewSessionID(), later.Add(5*time.Minute), later); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.remember(anp.NewSessionID(), later.Add(5*time.Minute), later); anp.CodeOf(err) != anp.CodeRefused {
		t.Fatalf("101st id: %v, want refused", err)
	}
	_ = u.close()

	if err := os.WriteFile(path, []byte(live+" 1735690200000\nnot a line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openUsedSessions(dir, now, 100); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a malformed line: %v", err)
	}
}
