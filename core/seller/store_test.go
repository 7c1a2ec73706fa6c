package seller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore/redistest"
	"github.com/clinch-protocol/clinch-mcp/core/store/sqlitestore"
)

// storeBackends opens a fresh store of each backend; PostgreSQL and Redis
// skip (fail under CI=true) when their server is absent.
var storeBackends = []struct {
	name string
	open func(t testing.TB) store.Sessions
}{
	{"sqlite", func(t testing.TB) store.Sessions {
		db, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db.Sessions()
	}},
	{"postgres", func(t testing.TB) store.Sessions {
		dsn, _ := pgtest.NewSchema(t)
		db, err := pgstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db.Sessions()
	}},
	{"redis", func(t testing.TB) store.Sessions {
		prefix := redistest.NewPrefix(t)
		db, err := redisstore.OpenWithPrefix(context.Background(), redistest.URL(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db.Sessions()
	}},
}

// storedNode starts a node on st.
func storedNode(t *testing.T, st store.Sessions, edit func(*Config)) (*Node, string) {
	t.Helper()
	n, srv := newTestNode(t, func(c *Config) {
		c.Store = st
		if edit != nil {
			edit(c)
		}
	})
	return n, srv.URL
}

// loadStored reads the stored form of session id of testDomain.
func loadStored(t *testing.T, st store.Sessions, id string) (*storedSession, int64) {
	t.Helper()
	rec, err := st.Load(context.Background(), "seller/"+testDomain+"/"+id)
	if err != nil {
		t.Fatalf("load stored session %s: %v", id, err)
	}
	s, err := decodeStored(rec.Data, testDomain, id, DefaultMaxSessionBytes+storedSlack)
	if err != nil {
		t.Fatal(err)
	}
	return s, rec.Version
}

// TestStoredSessionSurvivesRestart: a node closed mid-negotiation and a new
// node on the same store continue it to a countersigned deal; every reply
// verifies in the buyer's chain.
func TestStoredSessionSurvivesRestart(t *testing.T) {
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			first, url1 := storedNode(t, st, nil)
			buy := newBuyer(t, url1)
			p := propose("Blender", nil)
			buy.send(anp.TypePropose, p)
			buy.send(anp.TypeCounter, counter(7000, 2))
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}

			second, url2 := storedNode(t, st, nil)
			if _, ok := second.Session(buy.Session); ok {
				t.Fatal("the new node holds the session before any message")
			}
			buy.url = url2
			accept := buy.send(anp.TypeCounter, counter(9000, 3))
			if accept.Type != anp.TypeAccept {
				t.Fatalf("reply %s, want ACCEPT", accept.Type)
			}
			a := buy.artifactFor(accept, p)
			confirm := buy.send(anp.TypeCommit, anp.CommitBody{Artifact: a})
			a.SellerSig = anptest.Body[anp.ConfirmBody](t, confirm).SellerSig
			if err := a.VerifySeller(); err != nil {
				t.Fatalf("seller signature after the restart: %v", err)
			}
			s, _ := loadStored(t, st, buy.Session)
			if s.State != StateSigned || len(s.Envelopes) != 8 || s.SignedSig != a.SellerSig {
				t.Fatalf("stored state %s, %d envelopes, sig %q", s.State, len(s.Envelopes), s.SignedSig)
			}
		})
	}
}

// TestStoredMoveAppliedOnce: one buyer COUNTER delivered 16 times at once to
// two nodes sharing a store is applied once; every delivery gets the same
// signed reply. Then 16 different COUNTERs for the next seq: exactly one is
// applied, the others are refused.
func TestStoredMoveAppliedOnce(t *testing.T) {
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			var policyCalls atomic.Int64
			count := func(c *Config) { c.Policy = countingPolicy{linearPolicy(), &policyCalls} }
			_, url1 := storedNode(t, st, count)
			_, url2 := storedNode(t, st, count)
			buy := newBuyer(t, url1)
			buy.send(anp.TypePropose, propose("Blender", nil))

			env := buy.Seal(anp.TypeCounter, counter(7000, 2))
			results := deliver(t, buy, 16, func(int) *anp.Envelope { return env }, url1, url2)
			var first string
			for i, r := range results {
				if r.status != http.StatusOK || r.reply == nil {
					t.Fatalf("delivery %d: status %d error %v", i, r.status, r.err)
				}
				h := anptest.Hash(t, r.reply)
				if first == "" {
					first = h
				} else if h != first {
					t.Fatalf("delivery %d got reply %s, delivery 0 got %s: two answers for seq %d", i, h, first, r.reply.Seq)
				}
			}
			s, _ := loadStored(t, st, buy.Session)
			if len(s.Envelopes) != 4 || anptest.Hash(t, s.Envelopes[3]) != first {
				t.Fatalf("stored %d envelopes, want 4 ending in the reply every delivery got", len(s.Envelopes))
			}
			buy.Record(env)
			buy.Accept(results[0].reply)

			results = deliver(t, buy, 16, func(i int) *anp.Envelope { return buy.Seal(anp.TypeCounter, counter(7100+int64(i), 3)) }, url1, url2)
			applied := 0
			for i, r := range results {
				switch {
				case r.status == http.StatusOK:
					applied++
				case r.err == nil || (r.err.Code != anp.CodeConflict && r.err.Code != anp.CodeOutOfOrder && r.err.Code != anp.CodeReplay):
					t.Fatalf("competing move %d: status %d error %v", i, r.status, r.err)
				}
			}
			s, _ = loadStored(t, st, buy.Session)
			if applied != 1 || len(s.Envelopes) != 6 {
				t.Fatalf("%d competing moves applied, %d envelopes stored; want 1 and 6", applied, len(s.Envelopes))
			}
			t.Logf("%s: 16 identical deliveries -> 1 stored reply; 16 competing moves -> %d applied; policy ran %d times", b.name, applied, policyCalls.Load())
		})
	}
}

// deliver posts the envelopes env(0..count-1) at once, alternating between
// urls, each released by one shared start signal.
func deliver(t *testing.T, buy *buyer, count int, env func(int) *anp.Envelope, urls ...string) []result {
	t.Helper()
	results := make([]result, count)
	bodies := make([][]byte, count)
	for i := range bodies {
		data, err := json.Marshal(env(i))
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = data
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			b := *buy
			b.url = urls[i%len(urls)]
			results[i] = b.postRaw(anp.SellerCounter, bodies[i])
		}()
	}
	close(start)
	wg.Wait()
	return results
}

// countingPolicy counts the policy's answers.
type countingPolicy struct {
	Policy
	calls *atomic.Int64
}

func (c countingPolicy) Respond(ctx context.Context, s SessionView, o anp.Money) (Decision, error) {
	c.calls.Add(1)
	return c.Policy.Respond(ctx, s, o)
}

// TestStoreSweep: a stored session whose buyer sent only its PROPOSE becomes
// a tombstone after ProposeTTL (the next message is refused, on another node
// too), and the tombstone is deleted once the PROPOSE has expired;
// a session that got further stays.
func TestStoreSweep(t *testing.T) {
	st := storeBackends[0].open(t)
	clock := anptest.NewClock(time.Now())
	edit := func(c *Config) { c.Now, c.ProposeTTL = clock.Now, 5*time.Minute }
	n, url := storedNode(t, st, edit)
	fresh := newBuyer(t, url)
	fresh.Party.Now = clock.Now
	p := propose("Blender", nil)
	proposeEnv := fresh.Seal(anp.TypePropose, p)
	if r := fresh.post(anp.SellerHandshake, proposeEnv); r.status != http.StatusOK {
		t.Fatalf("propose: %d %v", r.status, r.err)
	}
	fresh.Record(proposeEnv)
	busy := newBuyer(t, url)
	busy.Party.Now = clock.Now
	busy.send(anp.TypePropose, p)
	busy.send(anp.TypeCounter, counter(7000, 2))

	clock.Advance(5*time.Minute + time.Second)
	changed, err := n.SweepStore(context.Background())
	if err != nil || changed != 1 {
		t.Fatalf("sweep changed %d, %v; want 1 (the fresh session)", changed, err)
	}
	if s, _ := loadStored(t, st, fresh.Session); !s.Gone {
		t.Fatal("the fresh session is not a tombstone")
	}
	if s, _ := loadStored(t, st, busy.Session); s.Gone {
		t.Fatal("the session that got further was swept")
	}
	// The node that swept no longer has it in its table either way; a
	// second node reads the tombstone.
	_, url2 := storedNode(t, st, edit)
	fresh.url = url2
	if r := fresh.post(anp.SellerCounter, fresh.Seal(anp.TypeCounter, counter(7000, 2))); r.err == nil || r.err.Code != anp.CodeExpired {
		t.Fatalf("counter on a swept session: %d %v, want expired", r.status, r.err)
	}
	clock.Advance(retention)
	if changed, err := n.SweepStore(context.Background()); err != nil || changed != 1 {
		t.Fatalf("second sweep changed %d, %v; want 1 (the tombstone deleted; the other session is idle for less than its TTL)", changed, err)
	}
	if _, err := st.Load(context.Background(), "seller/"+testDomain+"/"+fresh.Session); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tombstone past its PROPOSE's expiry: %v, want deleted", err)
	}
}

// TestStoreCorruptRecord: a record that is not the stored form is a named
// error, answered as internal, never a panic.
func TestStoreCorruptRecord(t *testing.T) {
	st := storeBackends[0].open(t)
	_, url := storedNode(t, st, nil)
	buy := newBuyer(t, url)
	buy.send(anp.TypePropose, propose("Blender", nil))
	s, v := loadStored(t, st, buy.Session)
	s.Envelopes[1].Prev = "00"
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Save(context.Background(), store.SessionRecord{ID: "seller/" + testDomain + "/" + buy.Session, Version: v, Data: data}); err != nil {
		t.Fatal(err)
	}
	r := buy.post(anp.SellerCounter, buy.Seal(anp.TypeCounter, counter(7000, 2)))
	if r.status != http.StatusInternalServerError || r.err.Code != anp.CodeInternal {
		t.Fatalf("counter on a corrupt record: %d %v, want internal", r.status, r.err)
	}
	for _, tc := range []struct{ name, data string }{
		{"not json", "{"},
		{"unknown field", `{"v":1,"domain":"kitchen-outlet.anp","id":"x","until":1,"extra":1}`},
		{"other domain", fmt.Sprintf(`{"v":1,"domain":"other.anp","id":%q,"until":1,"gone":true}`, buy.Session)},
		{"null", `{"v":1,"domain":"kitchen-outlet.anp","id":null,"until":1}`},
		{"no propose", fmt.Sprintf(`{"v":1,"domain":"kitchen-outlet.anp","id":%q,"until":1,"state":"OPEN","turn":1}`, buy.Session)},
	} {
		if _, err := decodeStored([]byte(tc.data), testDomain, buy.Session, 1<<20); !errors.Is(err, ErrStoredSession) {
			t.Errorf("%s: %v, want ErrStoredSession", tc.name, err)
		}
	}
}

// TestReadyz: /readyz answers 200 while the store answers and 503 after
// Drain; /healthz stays 200.
func TestReadyz(t *testing.T) {
	st := storeBackends[0].open(t)
	n, url := storedNode(t, st, nil)
	get := func(path string) int {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(RouteReady); c != http.StatusOK {
		t.Fatalf("readyz %d", c)
	}
	n.Drain()
	if c := get(RouteReady); c != http.StatusServiceUnavailable {
		t.Fatalf("readyz after Drain %d, want 503", c)
	}
	if c := get(anp.RouteHealth); c != http.StatusOK {
		t.Fatalf("healthz after Drain %d", c)
	}
}

// FuzzDecodeStoredSession: any bytes read back as a stored session are
// either refused with ErrStoredSession or a session whose stored form reads
// back to the same transcript.
func FuzzDecodeStoredSession(f *testing.F) {
	st := memstore.NewSessions()
	n, srv := newTestNode(f, func(c *Config) { c.Store = st })
	buy := newBuyer(f, srv.URL)
	buy.send(anp.TypePropose, propose("Blender", nil))
	rec, err := st.Load(context.Background(), n.storeKey(buy.Session))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec.Data)
	buy.send(anp.TypeCounter, counter(7000, 2))
	if rec, err = st.Load(context.Background(), n.storeKey(buy.Session)); err != nil {
		f.Fatal(err)
	}
	f.Add(rec.Data)
	f.Add(n.tombstone(buy.Session, 1))
	f.Add([]byte(`{"v":1}`))
	id := buy.Session
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeStored(data, testDomain, id, DefaultMaxSessionBytes+storedSlack)
		if err != nil {
			if !errors.Is(err, ErrStoredSession) {
				t.Fatalf("error %v does not wrap ErrStoredSession", err)
			}
			return
		}
		if st.Gone {
			return
		}
		s, err := st.session(n.creds)
		if err != nil {
			if !errors.Is(err, ErrStoredSession) {
				t.Fatalf("error %v does not wrap ErrStoredSession", err)
			}
			return
		}
		again, err := n.encodeSession(s)
		if err != nil {
			return // within the read limit, beyond what the node stores
		}
		st2, err := decodeStored(again, testDomain, id, DefaultMaxSessionBytes+storedSlack)
		if err != nil {
			t.Fatalf("the stored form of a session read back does not read again: %v", err)
		}
		s2, err := st2.session(n.creds)
		if err != nil || s2.transcript.Head != s.transcript.Head || s2.lastBuyer != s.lastBuyer || s2.state != s.state {
			t.Fatalf("round trip changed the session: %v", err)
		}
	})
}

// TestStoredCredentialIsSealed: an opened credential is stored sealed to
// the node's key and its session; it opens only there.
func TestStoredCredentialIsSealed(t *testing.T) {
	c := newCredSealer(sellerKey)
	sealed, err := c.seal(testDomain, "s1", "member-token-123")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "member-token") {
		t.Fatalf("stored credential %q shows the credential", sealed)
	}
	if got, err := c.open(testDomain, "s1", sealed); err != nil || got != "member-token-123" {
		t.Fatalf("open = %q, %v", got, err)
	}
	for _, tc := range []struct{ name, domain, id string }{{"other session", testDomain, "s2"}, {"other domain", "other.anp", "s1"}} {
		if _, err := c.open(tc.domain, tc.id, sealed); !errors.Is(err, ErrStoredSession) {
			t.Errorf("%s: %v, want ErrStoredSession", tc.name, err)
		}
	}
	if _, err := newCredSealer(anptest.SeedKey(0x22)).open(testDomain, "s1", sealed); !errors.Is(err, ErrStoredSession) {
		t.Errorf("another node's key: %v, want ErrStoredSession", err)
	}
}

// TestStoredAsyncAnswerSentOnce: an asynchronous node's COUNTER delivered to
// two nodes sharing a store may be decided by both, but only the answer
// that is stored reaches the registry: one callback, the one stored.
func TestStoredAsyncAnswerSentOnce(t *testing.T) {
	st := storeBackends[0].open(t)
	reg := newStubRegistry(t)
	gate := make(chan struct{})
	var nodes []*Node
	var urls []string
	for range 2 {
		n, url := storedNode(t, st, func(c *Config) {
			c.Async, c.asyncGate = true, gate
			c.Registry = &httpRegistry{base: reg.srv.URL, identity: sellerKey}
		})
		nodes, urls = append(nodes, n), append(urls, url)
	}
	buy := newBuyer(t, urls[0])
	buy.send(anp.TypePropose, propose("Dutch oven", nil))
	env := buy.Seal(anp.TypeCounter, counter(7000, 2))
	for i, r := range deliver(t, buy, 8, func(int) *anp.Envelope { return env }, urls...) {
		if r.status != http.StatusAccepted || !r.pend {
			t.Fatalf("delivery %d: %d %+v", i, r.status, r.err)
		}
	}
	close(gate) // every answer waiting may go ahead
	for _, n := range nodes {
		waitForAnswers(n)
	}
	cb := awaitCallback(t, reg)
	select {
	case extra := <-reg.arrived:
		t.Fatalf("a second callback for the same COUNTER: %s seq %d", extra.Type, extra.Seq)
	default:
	}
	s, _ := loadStored(t, st, buy.Session)
	if s.Pending || len(s.Envelopes) != 4 || anptest.Hash(t, s.Envelopes[3]) != anptest.Hash(t, cb) {
		t.Fatalf("stored: pending %t, %d envelopes; want the one callback stored as the 4th", s.Pending, len(s.Envelopes))
	}
}

// seqOfHash finds each envelope of a checked transcript by its hash, read
// from the chain (the next envelope's prev, the head) instead of computed,
// and nothing for a hash that is not in it.
func TestSeqOfHashReadsTheChain(t *testing.T) {
	n, srv := newTestNode(t, nil)
	by := newBuyer(t, srv.URL)
	by.send(anp.TypePropose, propose("kettle", nil))
	by.send(anp.TypeCounter, counter(7000, 2))
	s := n.get(by.Session)
	if s == nil {
		t.Fatal("the node holds no session")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	envs := s.transcript.Envelopes
	if len(envs) < 4 {
		t.Fatalf("%d envelopes, want at least 4", len(envs))
	}
	for _, e := range envs {
		h, err := e.Hash()
		if err != nil {
			t.Fatal(err)
		}
		if got := seqOfHash(&s.transcript, h); got != e.Seq {
			t.Errorf("seq of the hash of envelope %d = %d", e.Seq, got)
		}
	}
	for _, h := range []string{"", strings.Repeat("0", 64), envs[0].Prev + "x"} {
		if got := seqOfHash(&s.transcript, h); got != 0 {
			t.Errorf("seq of %q = %d, want 0", h, got)
		}
	}
}
