package anptest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// stopped runs f with a testing.TB whose Fatal and Fatalf stop f, and
// returns the failure message ("" when f ran to its end).
func stopped(t *testing.T, f func(tb testing.TB)) string {
	t.Helper()
	tb := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(tb)
	}()
	<-done
	return tb.msg
}

type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatal(args ...any) { r.msg = fmt.Sprint(args...); runtime.Goexit() }

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestClock(t *testing.T) {
	start := time.UnixMilli(1735689600000)
	tests := []struct {
		name  string
		steps []time.Duration
		want  time.Time
	}{
		{"reads its start", nil, start},
		{"moves forward", []time.Duration{time.Minute, 30 * time.Second}, start.Add(90 * time.Second)},
		{"moves back", []time.Duration{-time.Hour}, start.Add(-time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(start)
			for _, d := range tc.steps {
				c.Advance(d)
			}
			if got := c.Now(); !got.Equal(tc.want) {
				t.Fatalf("Now = %v, want %v", got, tc.want)
			}
			if got := c.Now(); !got.Equal(tc.want) {
				t.Fatalf("second Now = %v: the clock moved by itself", got)
			}
		})
	}
}

// TestSeedKeyMatchesTheVectors checks SeedKey against the public keys the
// protocol vectors publish for their seeds.
func TestSeedKeyMatchesTheVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "anp", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Keys []struct {
			Name      string `json:"name"`
			Seed      string `json:"seed"`
			PublicKey string `json:"public_key"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Keys) == 0 {
		t.Fatal("keys.json lists no keys")
	}
	for _, k := range file.Keys {
		t.Run(k.Name, func(t *testing.T) {
			var first byte
			if _, err := fmt.Sscanf(k.Seed[:2], "%02x", &first); err != nil {
				t.Fatal(err)
			}
			key := SeedKey(first)
			if got := fmt.Sprintf("%x", key.Seed()); got != k.Seed {
				t.Fatalf("seed %s, want %s", got, k.Seed)
			}
			if got := PubHex(key); got != k.PublicKey {
				t.Fatalf("public key %s, want %s", got, k.PublicKey)
			}
		})
	}
}

func TestNewKeyIsFresh(t *testing.T) {
	if a, b := PubHex(NewKey(t)), PubHex(NewKey(t)); a == b {
		t.Fatalf("two NewKey calls returned the same key %s", a)
	}
}

func TestUSD(t *testing.T) {
	tests := []struct {
		amount int64
		want   string
	}{
		{8500, "85.00 USD"},
		{1, "0.01 USD"},
		{0, "0.00 USD"},
	}
	for _, tc := range tests {
		m := USD(tc.amount)
		if m.Amount != tc.amount || m.Currency != "USD" || m.String() != tc.want {
			t.Errorf("USD(%d) = %+v (%s), want %s", tc.amount, m, m, tc.want)
		}
	}
}

// session is a Party with a seller that answers its PROPOSE.
type session struct {
	p        *Party
	clock    *Clock
	seller   string // the seller's hex key
	propose  *anp.Envelope
	proposal anp.ProposeBody
}

var sellerKey = SeedKey(0x21)

func newSession(tb testing.TB) *session {
	tb.Helper()
	clock := NewClock(time.UnixMilli(1735689600000))
	p := NewParty(tb, "kitchen-outlet.anp", clock.Now)
	p.Peer = PubHex(sellerKey)
	proposal := anp.ProposeBody{Mode: anp.ModeC, Item: "kettle", Quantity: 2, Currency: "USD"}
	return &session{p: p, clock: clock, seller: p.Peer, propose: p.Seal(anp.TypePropose, proposal), proposal: proposal}
}

// reply seals the seller's answer to env.
func (s *session) reply(tb testing.TB, env *anp.Envelope, typ anp.MsgType, body any) *anp.Envelope {
	tb.Helper()
	out, err := Answer(sellerKey, env, typ, body, s.clock.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestPartyChainsAVerifiedTranscript(t *testing.T) {
	s := newSession(t)
	p := s.p
	p.Record(s.propose)
	p.Accept(s.reply(t, s.propose, anp.TypeCounter, anp.OfferBody{Price: USD(9000), Turn: 1}))
	s.clock.Advance(time.Second)
	counter := p.Seal(anp.TypeCounter, anp.OfferBody{Price: USD(8000), Turn: 2})
	if counter.Seq != 3 || counter.Prev != p.Tr.Head || counter.TS != s.clock.Now().UnixMilli() {
		t.Fatalf("next envelope seq %d prev %s ts %d, want 3, the head and the clock", counter.Seq, counter.Prev, counter.TS)
	}
	p.Record(counter)
	accept := s.reply(t, counter, anp.TypeAccept, anp.OfferBody{Price: USD(8000), Turn: 2})
	p.Accept(accept)
	if _, err := anp.VerifyChain(p.Tr.Envelopes); err != nil || len(p.Tr.Envelopes) != 4 {
		t.Fatalf("transcript of %d envelopes: %v", len(p.Tr.Envelopes), err)
	}

	terms := p.Terms(accept, s.proposal, s.seller)
	want := anp.DealTerms{
		V: anp.Version, SessionID: p.Session, Mode: anp.ModeC, SellerDomain: "kitchen-outlet.anp", SellerKey: s.seller,
		BuyerKey: p.Pub, Item: "kettle", Quantity: 2, Price: USD(8000), TranscriptHead: p.Tr.Head, TranscriptLen: 4,
		AgreedAt: accept.TS, CreatedAt: s.clock.Now().UnixMilli(),
	}
	if !reflect.DeepEqual(terms, want) {
		t.Fatalf("terms\n%+v\nwant\n%+v", terms, want)
	}
	a := SignDeal(t, terms, p.Key, sellerKey)
	if err := a.VerifyBuyer(); err != nil {
		t.Fatal(err)
	}
	if err := a.VerifySeller(); err != nil {
		t.Fatal(err)
	}
	if SignDeal(t, terms, p.Key, nil).SellerSig != "" {
		t.Fatal("SignDeal without a seller key added a seller signature")
	}
}

func TestPartyRefuses(t *testing.T) {
	tests := []struct {
		name string
		run  func(tb testing.TB, s *session)
		want string // in the failure message
	}{
		{"a reply signed by another key than Peer", func(tb testing.TB, s *session) {
			s.p.Record(s.propose)
			forged := *s.reply(tb, s.propose, anp.TypeCounter, anp.OfferBody{Price: USD(1), Turn: 1})
			stranger := SeedKey(0xc1)
			forged.From = PubHex(stranger)
			s.p.Accept(SealRaw(tb, stranger, forged))
		}, "does not verify"},
		{"a reply that skips a seq", func(tb testing.TB, s *session) {
			s.p.Record(s.propose)
			r := *s.reply(tb, s.propose, anp.TypeCounter, anp.OfferBody{Price: USD(1), Turn: 1})
			r.Seq = 5
			s.p.Accept(SealRaw(tb, sellerKey, r))
		}, "does not verify"},
		{"its own envelope as the seller's", func(tb testing.TB, s *session) {
			s.p.Accept(s.propose)
		}, "does not verify"},
		{"an envelope of another session as its own", func(tb testing.TB, s *session) {
			other := NewParty(tb, s.p.To, s.clock.Now)
			s.p.Record(other.Seal(anp.TypePropose, s.proposal))
		}, "record own PROPOSE"},
		{"an expired envelope", func(tb testing.TB, s *session) {
			s.clock.Advance(anp.MaxTTL + time.Minute)
			s.p.Record(s.propose)
		}, "record own PROPOSE"},
		{"a body that cannot be signed", func(tb testing.TB, s *session) {
			s.p.Seal(anp.TypeCounter, json.RawMessage(`{`))
		}, "seal COUNTER"},
		{"a body of another shape", func(tb testing.TB, s *session) {
			Body[anp.OfferBody](tb, s.propose)
		}, "PROPOSE seq 1 body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := stopped(t, func(tb testing.TB) {
				tc.run(tb, newSession(tb))
			})
			if msg == "" {
				t.Fatal("the helper accepted it")
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("failure %q, want it to say %q", msg, tc.want)
			}
		})
	}
}

func TestTrySealReturnsTheError(t *testing.T) {
	s := newSession(t)
	if _, err := s.p.TrySeal(anp.TypeCounter, json.RawMessage(`{`)); err == nil {
		t.Fatal("TrySeal signed a body that is not JSON")
	}
	env, err := s.p.TrySeal(anp.TypePropose, s.proposal)
	if err != nil || env.Seq != 1 || env.To != s.p.To || env.From != s.p.Pub {
		t.Fatalf("TrySeal = %+v, %v", env, err)
	}
}
