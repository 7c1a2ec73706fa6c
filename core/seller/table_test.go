package seller

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// paddedRequest is env encoded with its body written as a sender may pad
// it: every message character as a \u escape and white space up to about
// size bytes in all. The signature still verifies (the body is signed in
// canonical form).
func paddedRequest(t testing.TB, env *anp.Envelope, msg string, size int) []byte {
	t.Helper()
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	var esc strings.Builder
	for _, r := range msg {
		esc.WriteString(`\u00` + strings.ToLower(string("0123456789ABCDEF"[r>>4])+string("0123456789ABCDEF"[r&15])))
	}
	padded := `{` + "\n" + `"message"` + " : " + `"` + esc.String() + `"`
	padded += strings.Repeat(" ", max(0, size-len(data)-len(padded)+len(env.Body)-1)) + `}`
	out := bytes.Replace(data, env.Body, []byte(padded), 1)
	if bytes.Equal(out, data) {
		t.Fatal("the body was not found in the encoded envelope")
	}
	return out
}

// TestFiveHundredPaddedQueries: one session of 500 QUERYs, each padded to
// 8 KiB (a 1,000-byte message), keeps its bodies in canonical form, is
// refused (too_large, naming the limit) once it holds the default 256 KiB,
// and the node's accounting of what it holds stays under that limit.
func TestFiveHundredPaddedQueries(t *testing.T) {
	n, srv := newTestNode(t, nil)
	b := newBuyer(t, srv.URL)
	b.send(anp.TypePropose, propose("kettle", nil))
	msg := strings.Repeat("q", anp.MaxMessageLen)
	var answered, refused, received int
	var first *anp.Error
	for range 500 {
		env := b.Seal(anp.TypeQuery, anp.NoteBody{Message: msg})
		data := paddedRequest(t, env, msg, 8<<10)
		received += len(data)
		switch r := b.postRaw(anp.SellerCounter, data); {
		case r.status == http.StatusOK:
			b.Record(env)
			b.Accept(r.reply)
			answered++
		case r.status == http.StatusRequestEntityTooLarge && r.err.Code == anp.CodeTooLarge:
			if first == nil {
				first = r.err
			}
			refused++
		default:
			t.Fatalf("QUERY %d: %d %+v", answered+refused+1, r.status, r.err)
		}
	}
	held, _ := n.SessionBytes(b.Session)
	st := n.Stats()
	if answered == 0 || refused == 0 || held > DefaultMaxSessionBytes || st.RetainedBytes > DefaultMaxSessionBytes {
		t.Fatalf("%d answered, %d refused; the session holds %d bytes, the node %d", answered, refused, held, st.RetainedBytes)
	}
	if want := "the limit is 262144 bytes per session"; !strings.Contains(first.Message, want) {
		t.Fatalf("refusal %q does not name %q", first.Message, want)
	}
	envs, _ := n.Transcript(b.Session)
	head, err := anp.VerifyChain(envs)
	if err != nil || head != b.Tr.Head {
		t.Fatalf("the kept transcript does not verify: %v", err)
	}
	if q := envs[2]; !bytes.Equal(q.Body, mustCanonicalJSON(t, anp.NoteBody{Message: msg})) {
		t.Fatalf("kept QUERY body of %d bytes is not canonical", len(q.Body))
	}
	t.Logf("500 QUERYs of about %d bytes each (%d bytes received): %d answered, %d refused: %q; the session holds %d bytes (limit %d), the node %d; a kept QUERY body is %d bytes",
		received/500, received, answered, refused, first.Message, held, DefaultMaxSessionBytes, st.RetainedBytes, len(envs[2].Body))
}

func mustCanonicalJSON(t testing.TB, v any) []byte {
	t.Helper()
	c, err := anp.Canonical(v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// askUntilRefused sends b's QUERYs until the seller refuses one, or stop
// says so first (then it returns nil), and returns the refusal.
func askUntilRefused(t *testing.T, b *buyer, stop func() bool) *anp.Error {
	t.Helper()
	q := anp.NoteBody{Message: strings.Repeat("q", anp.MaxMessageLen)}
	for range 200 {
		if stop != nil && stop() {
			return nil
		}
		env := b.Seal(anp.TypeQuery, q)
		r := b.post(anp.SellerCounter, env)
		if r.status != http.StatusOK {
			return r.err
		}
		b.Record(env)
		b.Accept(r.reply)
	}
	t.Fatal("200 QUERYs and no refusal")
	return nil
}

// TestTotalBytesEvictFreshSessionsFirst: when all sessions together hold
// MaxTotalBytes, a buyer who got past its PROPOSE makes room by evicting
// PROPOSE-only sessions, oldest first, and is refused, naming the limit,
// when only sessions that got further are left.
func TestTotalBytesEvictFreshSessionsFirst(t *testing.T) {
	const perSession, total = 40 << 10, 64 << 10
	n, srv := newTestNode(t, func(c *Config) { c.MaxSessionBytes, c.MaxTotalBytes = perSession, total })
	a := newBuyer(t, srv.URL)
	a.send(anp.TypePropose, propose("kettle", nil))
	if err := askUntilRefused(t, a, nil); err.Code != anp.CodeTooLarge || !strings.Contains(err.Message, "the limit is 40960 bytes per session") {
		t.Fatalf("a full session: %+v", err)
	}
	fresh := make([]*buyer, 4)
	for i := range fresh {
		fresh[i] = newBuyer(t, srv.URL)
		fresh[i].send(anp.TypePropose, propose("kettle", nil))
	}
	c := newBuyer(t, srv.URL)
	c.send(anp.TypePropose, propose("kettle", nil))
	c.send(anp.TypeCounter, counter(7000, 2))
	if err := askUntilRefused(t, c, func() bool { return n.Stats().Evicted > 0 }); err != nil {
		t.Fatalf("refused before any fresh session made room: %+v", err)
	}
	if _, ok := n.Session(fresh[0].Session); ok {
		t.Fatal("the oldest fresh session was not evicted first")
	}
	if _, ok := n.Session(fresh[3].Session); !ok {
		t.Fatal("the newest fresh session was evicted before older ones")
	}
	err := askUntilRefused(t, c, nil)
	if err.Code != anp.CodeRefused || !strings.Contains(err.Message, "its limit of 65536 bytes") {
		t.Fatalf("refusal %+v, want refused naming the total limit", err)
	}
	if st := n.Stats(); st.Evicted != 4 || st.FreshSessions != 0 || st.RetainedBytes > total {
		t.Fatalf("stats %+v", st)
	}
}

// TestFreshSessionsExpireAfterProposeTTL: a session whose buyer never sent
// more than its PROPOSE is dropped ProposeTTL later, and says so; one that
// got further stays for SessionTTL; one the seller accepted at once waits
// for the buyer's approval.
func TestFreshSessionsExpireAfterProposeTTL(t *testing.T) {
	clk := anptest.NewClock(time.Now())
	n, srv := newTestNode(t, func(c *Config) { c.Now = clk.Now; c.ProposeTTL = time.Minute })
	fresh, moved, accepted := newBuyerAt(t, srv.URL, clk), newBuyerAt(t, srv.URL, clk), newBuyerAt(t, srv.URL, clk)
	fresh.send(anp.TypePropose, propose("kettle", nil))
	moved.send(anp.TypePropose, propose("kettle", nil))
	moved.send(anp.TypeCounter, counter(7000, 2))
	o := anptest.USD(10000)
	if r := accepted.send(anp.TypePropose, propose("kettle", &o)); r.Type != anp.TypeAccept {
		t.Fatalf("an opening offer at the list price: %s", r.Type)
	}
	if st := n.Stats(); st.FreshSessions != 1 || st.Sessions != 3 {
		t.Fatalf("stats %+v, want 1 fresh of 3", st)
	}
	clk.Advance(time.Minute + time.Second)
	r := fresh.post(anp.SellerCounter, fresh.Seal(anp.TypeCounter, counter(7000, 2)))
	if r.status != http.StatusGone || !strings.Contains(r.err.Message, "no message followed its PROPOSE within 1m0s") {
		t.Fatalf("COUNTER after ProposeTTL: %d %+v", r.status, r.err)
	}
	moved.send(anp.TypeCounter, counter(7500, 3))
	a := accepted.artifactFor(accepted.Tr.Last(), propose("kettle", &o))
	if c := accepted.send(anp.TypeCommit, anp.CommitBody{Artifact: a}); c.Type != anp.TypeConfirm {
		t.Fatalf("COMMIT after a minute of approval: %s", c.Type)
	}
	// The dropped session's id stays used: its PROPOSE cannot open it again.
	if r := fresh.post(anp.SellerHandshake, fresh.Tr.Envelopes[0]); r.status != http.StatusConflict {
		t.Fatalf("the dropped session's PROPOSE again: %d %+v, want 409", r.status, r.err)
	}
	if st := n.Stats(); st.Sessions != 2 || st.Evicted != 1 || st.FreshSessions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDefaultMaxTotalBytes(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "meminfo")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if v, ok := physicalMemory(write("MemTotal:        8041352 kB\nMemFree: 1 kB\n")); !ok || v != 8041352*1024 {
		t.Fatalf("physicalMemory = %d, %v", v, ok)
	}
	for _, bad := range []string{"MemFree: 1 kB\n", "MemTotal: 12\n", "MemTotal: -5 kB\n", "MemTotal: x kB\n"} {
		if v, ok := physicalMemory(write(bad)); ok {
			t.Fatalf("physicalMemory(%q) = %d", bad, v)
		}
	}
	if _, ok := physicalMemory(filepath.Join(dir, "missing")); ok {
		t.Fatal("a missing file gave a size")
	}
	if clampTotal(1) != minDefaultTotalBytes || clampTotal(1<<50) != maxDefaultTotalBytes || clampTotal(1<<30) != 1<<30 {
		t.Fatal("clampTotal")
	}
	if d := DefaultMaxTotalBytes(); d < minDefaultTotalBytes || d > maxDefaultTotalBytes {
		t.Fatalf("DefaultMaxTotalBytes = %d", d)
	}
}
