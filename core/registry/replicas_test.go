package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/notify"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
)

// replicaEnvs starts n registries on one fresh PostgreSQL schema, sharing
// a root key, a clock and a notification channel of their own, each on a
// real loopback server.
func replicaEnvs(t *testing.T, n int, mod func(*Config)) []*testEnv {
	t.Helper()
	dsn, _ := pgtest.NewSchema(t)
	channel := "clinch_t_" + pgtest.RandomHex(t, 8)
	root, clock := anptest.NewKey(t), anptest.NewClock(time.Now())
	var out []*testEnv
	for range n {
		db, err := pgstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		nt, err := notify.NewPostgres(db.Pool(), notify.Options{Channel: channel})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e := &testEnv{t: t, clock: clock, root: root}
		e.cfg = Config{
			Root: root, Ledger: db.Ledger(), Nonces: db.Nonces(), Difficulty: 4, AllowPrivateEndpoints: true,
			SellerTimeout: 10 * time.Second, RedeliveryInterval: 100 * time.Millisecond, Now: clock.Now,
			Advertise: "http://" + ln.Addr().String(), Logger: zerolog.Nop(), DealSweep: time.Hour,
			Shared: &Shared{Notifier: nt, Locks: db.Locks(), Limiter: db.RateLimiter()},
		}
		if mod != nil {
			mod(&e.cfg)
		}
		srv, err := New(context.Background(), e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.srv = srv
		e.ts = &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
		e.ts.Start()
		t.Cleanup(e.stop)
		eventually(t, "the replica's subscription", func() bool { return srv.Ready(context.Background()) == nil })
		out = append(out, e)
	}
	return out
}

// TestReplicasShareTheDirectory: a seller binds and publishes at replica A;
// replica B answers for the domain at once (read on a miss), lists it once
// A's announcement arrives, and the statistics of sessions opened on both
// replicas add up.
func TestReplicasShareTheDirectory(t *testing.T) {
	rs := replicaEnvs(t, 2, nil)
	a, b := rs[0], rs[1]
	seller := a.addSeller("shared-pans.anp")
	buyer := anptest.NewKey(t)
	ctx := context.Background()
	r := b.do(http.MethodGet, strings.Replace(anp.RouteDomain, "{domain}", "shared-pans.anp", 1), nil, nil)
	var got anp.DomainBinding
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got.Key != anptest.PubHex(seller.key) {
		t.Fatalf("replica B's binding of a domain bound at A: %d %s", r.status, r.body)
	}
	eventually(t, "B listing the seller", func() bool {
		ls, err := b.client(buyer).Discover(ctx, "kitchen", "", 10)
		return err == nil && len(ls) == 1 && ls[0].Binding.Domain == "shared-pans.anp"
	})
	for _, e := range rs { // one session opened through each replica
		s := newBuyerSession(t, e.clock, seller.domain)
		s.relay(e.client(buyer), s.Seal(anp.TypePropose, proposeBody()))
	}
	for _, e := range rs {
		eventually(t, "two sessions counted on every replica", func() bool {
			l, err := e.client(buyer).Listing(ctx, "shared-pans.anp")
			return err == nil && l.Stats.Sessions == 2
		})
	}
}

// TestReplicasDeliverACallbackAcrossReplicas: the buyer's WebSocket is on
// replica A, the seller posts its callback to replica B: the buyer gets it
// once, its ACK on A deletes the record and B forgets it too.
func TestReplicasDeliverACallbackAcrossReplicas(t *testing.T) {
	rs := replicaEnvs(t, 2, nil)
	a, b := rs[0], rs[1]
	seller := a.addSeller("later-pans.anp")
	identity := anptest.NewKey(t)
	_, propose := pendingSession(t, a, seller, a.client(identity))
	got, statuses, _ := subscribe(t, a.client(identity), nil)
	eventually(t, "IDLE", func() bool { s := statuses.list(); return len(s) > 0 && s[len(s)-1] == StatusIdle })

	counter := seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	if err := b.callback(seller, counter); err != nil {
		t.Fatalf("callback at replica B: %v", err)
	}
	if env := receive(t, got); anptest.Hash(t, env) != anptest.Hash(t, counter) {
		t.Fatal("the buyer on replica A got another envelope than the callback posted at B")
	}
	buyer := anptest.PubHex(identity)
	for _, e := range rs {
		eventually(t, "the ACK on every replica", func() bool { return e.srv.hub.pendingCount(buyer) == 0 })
	}
	if _, err := a.srv.ledger.Get(context.Background(), bucketPending, pendingKey(buyer, anptest.Hash(t, counter))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the pending record after the ACK: %v, want it deleted", err)
	}
	select {
	case env := <-got:
		t.Fatalf("the callback was delivered again after its ACK: %s seq %d", env.Type, env.Seq)
	default:
	}
}

// TestReplicasCallbackWaitsForTheBuyersReconnection: a callback posted at
// B while the buyer has no WebSocket anywhere reaches it when it connects
// to A later (A reads the buyer's queue on authentication).
func TestReplicasCallbackWaitsForTheBuyersReconnection(t *testing.T) {
	rs := replicaEnvs(t, 2, nil)
	a, b := rs[0], rs[1]
	seller := a.addSeller("queued-pans.anp")
	identity := anptest.NewKey(t)
	_, propose := pendingSession(t, a, seller, a.client(identity))
	counter := seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	if err := b.callback(seller, counter); err != nil {
		t.Fatal(err)
	}
	a.srv.hub.drop(anptest.PubHex(identity), anptest.Hash(t, counter)) // as if A never heard B's announcement
	got, _, _ := subscribe(t, a.client(identity), nil)
	if env := receive(t, got); anptest.Hash(t, env) != anptest.Hash(t, counter) {
		t.Fatal("the queued callback was not delivered on connection to A")
	}
}

// TestReplicasShareRateLimits: the challenge limit of one source is one
// bucket in the store, not one per replica: a burst of 3 spread over two
// replicas admits 3 requests, and the fourth is refused by either.
func TestReplicasShareRateLimits(t *testing.T) {
	rs := replicaEnvs(t, 2, func(c *Config) { c.AuthRate, c.AuthBurst = 0.001, 3 })
	key := anptest.PubHex(anptest.NewKey(t))
	var codes []string
	for i := range 5 {
		r := rs[i%2].do(http.MethodPost, anp.RouteChallenge, anp.ChallengeRequest{PubKey: key}, nil)
		codes = append(codes, string(r.errCode()))
		if r.status != http.StatusOK && r.errCode() != anp.CodeRateLimited {
			t.Fatalf("challenge %d: %d %s", i+1, r.status, r.body)
		}
	}
	if got := strings.Join(codes, ","); got != ",,,rate_limited,rate_limited" {
		t.Fatalf("error codes of 5 challenges alternating over 2 replicas: %q, want 3 admitted then rate_limited", got)
	}
}

// TestReplicasSerialiseOneSession: the session lease admits one holder
// across replicas; the other waits until it is released, and gives up
// with unavailable when its context ends first.
func TestReplicasSerialiseOneSession(t *testing.T) {
	rs := replicaEnvs(t, 2, nil)
	ctx := context.Background()
	unlock, err := rs[0].srv.lockSession(ctx, "0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := rs[1].srv.lockSession(cctx, "0123456789abcdef0123456789abcdef"); anp.CodeOf(err) != anp.CodeUnavailable {
		t.Fatalf("a second replica took a held session lease: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := rs[1].srv.lockSession(ctx, "0123456789abcdef0123456789abcdef")
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("the lease released by A was not taken by B: %v", err)
	}
}

// TestReadyzAndDrain: /readyz answers 200 while the registry takes
// traffic and 503 once it drains (its hooks run once); /healthz stays 200.
func TestReadyzAndDrain(t *testing.T) {
	for name, start := range map[string]func(t *testing.T) *testEnv{
		"alone":    func(t *testing.T) *testEnv { return newEnv(t, nil) },
		"replicas": func(t *testing.T) *testEnv { return replicaEnvs(t, 1, nil)[0] },
	} {
		t.Run(name, func(t *testing.T) {
			e := start(t)
			if r := e.do(http.MethodGet, RouteReady, nil, nil); r.status != http.StatusOK {
				t.Fatalf("readyz before Drain: %d %s", r.status, r.body)
			}
			hooks := 0
			e.srv.OnDrain(func(context.Context) { hooks++ })
			e.srv.Drain(context.Background())
			e.srv.Drain(context.Background())
			if r := e.do(http.MethodGet, RouteReady, nil, nil); r.status != http.StatusServiceUnavailable || r.errCode() != anp.CodeUnavailable {
				t.Fatalf("readyz after Drain: %d %s, want 503 unavailable", r.status, r.body)
			}
			if r := e.do(http.MethodGet, anp.RouteHealth, nil, nil); r.status != http.StatusOK {
				t.Fatalf("healthz after Drain: %d", r.status)
			}
			if hooks != 1 {
				t.Fatalf("the drain hook ran %d times, want 1", hooks)
			}
		})
	}
}

func TestNewRefusesAnIncompleteShared(t *testing.T) {
	_, err := New(context.Background(), Config{Root: anptest.NewKey(t), Shared: &Shared{}})
	if !errors.Is(err, ErrShared) {
		t.Fatalf("New with an empty Shared: %v, want ErrShared", err)
	}
}

func TestParseChange(t *testing.T) {
	hexA, hexB := strings.Repeat("a", 64), strings.Repeat("0", 64)
	for _, tc := range []struct {
		msg  string
		want change
		ok   bool
	}{
		{"", change{kind: changeAll}, true},
		{"d/pans.anp", change{kind: changeDomain, domain: "pans.anp"}, true},
		{"s/pans.anp", change{kind: changeStats, domain: "pans.anp"}, true},
		{"s/", change{}, false},
		{"c+/" + hexA + "/" + hexB, change{kind: changeCallback, buyer: hexA, id: hexB}, true},
		{"c-/" + hexA + "/" + hexB, change{kind: changeACK, buyer: hexA, id: hexB}, true},
		{"d/", change{}, false},
		{"d/not a domain", change{}, false},
		{"c+/" + hexA, change{}, false},
		{"c+/" + strings.ToUpper(hexA) + "/" + hexB, change{}, false},
		{"c-/" + hexA + "/" + hexB + "/x", change{}, false},
		{"x/whatever", change{}, false},
		{"session-id-of-a-buyer-pod", change{}, false},
	} {
		got, err := parseChange(tc.msg)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("parseChange(%q) = %+v, %v; want %+v ok=%v", tc.msg, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadChange) {
			t.Errorf("parseChange(%q): %v is not ErrBadChange", tc.msg, err)
		}
	}
}

func FuzzParseChange(f *testing.F) {
	hex := strings.Repeat("ab", 32)
	for _, s := range []string{"", "d/pans.anp", "s/pans.anp", "c+/" + hex + "/" + hex, "c-/" + hex + "/" + hex, "c+/", "d/", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		c, err := parseChange(msg)
		if err != nil {
			if !errors.Is(err, ErrBadChange) {
				t.Fatalf("error %v is not ErrBadChange", err)
			}
			return
		}
		switch c.kind { // what parses names exactly what it read
		case changeAll:
			if msg != "" {
				t.Fatalf("%q parsed as everything", msg)
			}
		case changeDomain, changeStats:
			if msg != msgDomain+c.domain && msg != msgStats+c.domain {
				t.Fatalf("%q parsed as domain %q", msg, c.domain)
			}
		case changeCallback, changeACK:
			if !isHex(c.buyer, 64) || !isHex(c.id, 64) || !strings.HasSuffix(msg, "/"+c.buyer+"/"+c.id) {
				t.Fatalf("%q parsed as %+v", msg, c)
			}
		}
	})
}

// TestReplicasAcceptTokensOfAKeyRotatedElsewhere: replica A rotates the
// chain key and signs a token with the new key; replica B, which has not
// rotated, reads the chain again and accepts the token.
func TestReplicasAcceptTokensOfAKeyRotatedElsewhere(t *testing.T) {
	rs := replicaEnvs(t, 2, func(c *Config) { c.KeyLifetime = time.Hour })
	a, b := rs[0], rs[1]
	a.clock.Advance(61 * time.Minute)
	tok := a.token(anptest.NewKey(t))
	if n := len(b.srv.keys.chain()); n != 1 {
		t.Fatalf("replica B holds %d chain keys before the test, want 1", n)
	}
	r := b.do(http.MethodGet, anp.RouteDiscover+"?category=kitchen", nil, bearerHeader(tok))
	if r.status != http.StatusOK {
		t.Fatalf("replica B refused a token of the key A rotated to: %d %s", r.status, r.body)
	}
	if n := len(b.srv.keys.chain()); n != 2 {
		t.Fatalf("replica B holds %d chain keys after reading the rotation, want 2", n)
	}
	forged := b.do(http.MethodGet, anp.RouteDiscover, nil, bearerHeader(strings.Replace(tok, "a", "b", 1)))
	if forged.status != http.StatusUnauthorized {
		t.Fatalf("a altered token: %d, want 401", forged.status)
	}
}
