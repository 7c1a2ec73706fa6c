package seller

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// fuzzNode is a node with a fixed clock so that signed seeds stay valid.
// The fuzz targets sign every request as the registry relays it, so that
// the inputs reach the envelope decoder behind the relay check.
func fuzzNode(t testing.TB, now time.Time) *Node {
	n, err := NewNode(Config{Domain: testDomain, Identity: sellerKey, Policy: linearPolicy(), Registry: chainOnly{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// checkAnswer asserts the response is a well-formed protocol answer.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch rec.Code {
	case http.StatusOK:
		var rr anp.RelayResponse
		if err := anp.DecodeStrict(rec.Body.Bytes(), &rr); err != nil || rr.Reply == nil {
			t.Fatalf("200 without a reply: %v %s", err, rec.Body)
		}
		if err := rr.Reply.VerifySignature(); err != nil {
			t.Fatalf("reply does not verify: %v", err)
		}
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
		http.StatusGone, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		var eb anp.ErrorBody
		if err := anp.DecodeStrict(rec.Body.Bytes(), &eb); err != nil || eb.Error == nil {
			t.Fatalf("%d without an error body: %v %s", rec.Code, err, rec.Body)
		}
		if StatusFor(eb.Error.Code) != rec.Code {
			t.Fatalf("code %s with status %d", eb.Error.Code, rec.Code)
		}
	default:
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func FuzzHandshake(f *testing.F) {
	now := time.Now()
	b := newBuyer(f, "")
	b.Now = func() time.Time { return now }
	o := anptest.USD(9000)
	for _, body := range []any{propose("kettle", nil), propose("kettle", &o), map[string]any{"mode": "ANP/C", "item": "x", "quantity": 1, "currency": "USD", "extra": 1}} {
		env := b.Seal(anp.TypePropose, body)
		data, _ := json.Marshal(env)
		f.Add(data)
		b.Session = anp.NewSessionID()
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"type":"PROPOSE"}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte("\x00\xff"))
	n := fuzzNode(f, now)
	h := n.Handler()
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, relayedRequest(t, anp.SellerHandshake, data, now))
		checkAnswer(t, rec)
	})
}

// FuzzCounterBody fuzzes the body of a correctly signed COUNTER envelope.
func FuzzCounterBody(f *testing.F) {
	now := time.Now()
	for _, s := range []string{
		`{"price":{"amount":8000,"currency":"USD"},"turn":2}`,
		`{"price":{"amount":8000,"currency":"EUR"},"turn":2,"final":true}`,
		`{"price":{"amount":-1,"currency":"USD"},"turn":2}`,
		`{"price":{"amount":1e30,"currency":"USD"},"turn":2}`,
		`{"price":{"amount":8000,"currency":"USD"},"turn":2,"message":"\u0000"}`,
		`{"turn":2}`, `null`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	n := fuzzNode(f, now)
	h := n.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return // Seal canonicalises the body; invalid JSON cannot be signed
		}
		b := newBuyer(t, "")
		b.Now = func() time.Time { return now }
		do := func(path string, env *anp.Envelope) *httptest.ResponseRecorder {
			data, _ := json.Marshal(env)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, relayedRequest(t, path, data, now))
			checkAnswer(t, rec)
			return rec
		}
		p := b.Seal(anp.TypePropose, propose("kettle", nil))
		rec := do(anp.SellerHandshake, p)
		var rr anp.RelayResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &rr); err != nil || rr.Reply == nil {
			t.Fatalf("PROPOSE failed: %s", rec.Body)
		}
		b.Record(p)
		b.Accept(rr.Reply)
		env, err := b.TrySeal(anp.TypeCounter, json.RawMessage(body))
		if err != nil {
			return
		}
		do(anp.SellerCounter, env)
	})
}

func FuzzLoadFileConfig(f *testing.F) {
	f.Add([]byte(sampleConfig))
	f.Add([]byte(`{"domain":"a.anp"}`))
	f.Add([]byte(`{"policy":{"list":"1e3"}}`))
	f.Add([]byte(`{"modes":["ANP/A",7]}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := ParseFileConfig(data)
		if err != nil {
			if fc != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		if _, err := fc.NodeConfig(sellerKey, nil, nopLogger()); err != nil {
			t.Fatalf("valid config has no node config: %v", err)
		}
		again, err := json.Marshal(fc)
		if err != nil {
			t.Fatal(err)
		}
		// Round trip on the encoding: an empty list and a missing one are the same config.
		fc2, err := ParseFileConfig(again)
		if err != nil {
			t.Fatalf("round trip: %v\n%s", err, again)
		}
		if twice, _ := json.Marshal(fc2); string(twice) != string(again) {
			t.Fatalf("round trip changed the config:\n%s\n%s", again, twice)
		}
	})
}

// FuzzCurvePolicy checks the curve's invariants for any valid settings.
func FuzzCurvePolicy(f *testing.F) {
	f.Add(int64(10000), int64(8000), 1.0, 5, 1)
	f.Add(int64(1), int64(1), 0.01, 1, 3)
	f.Add(int64(999999), int64(3), 100.0, 1000, 1000)
	f.Fuzz(func(t *testing.T, list, floor int64, e float64, turns, qty int) {
		p := &CurvePolicy{List: anptest.USD(list), Floor: anptest.USD(floor), Exponent: e, MaxTurns: turns}
		if p.Validate() != nil || qty < 1 || qty > anp.MaxQuantity || turns > 60 {
			return
		}
		if _, _, err := p.totals(qty); err != nil {
			return
		}
		ctx := context.Background()
		v := SessionView{Quantity: qty, Currency: "USD", Turn: 1}
		d, err := p.Open(ctx, v, propose("kettle", nil))
		open := list * int64(qty)
		if p.maxTurns() == 1 {
			open = floor * int64(qty)
		}
		if err != nil || d.Action != ActionCounter || d.Price.Amount != open {
			t.Fatalf("opening %+v %v", d, err)
		}
		lowest := anptest.USD(1) // a buyer that never moves
		for turn := 2; turn <= p.maxTurns()+1; turn++ {
			prev := d.Price
			v.Turn, v.LastAsk = turn, &prev
			if d, err = p.Respond(ctx, v, lowest); err != nil {
				t.Fatal(err)
			}
			if d.Action == ActionAccept {
				if floor*int64(qty) > 1 || d.Price != lowest {
					t.Fatalf("turn %d: accepted %+v", turn, d)
				}
				return
			}
			if turn > p.maxTurns() || prev.Amount == floor*int64(qty) {
				if d.Action != ActionReject {
					t.Fatalf("after the final offer: %+v, want reject", d)
				}
				break
			}
			if d.Action != ActionCounter || d.Price.Amount > prev.Amount || d.Price.Amount < floor*int64(qty) {
				t.Fatalf("turn %d: %+v after %s", turn, d, prev)
			}
			if turn == p.maxTurns() && (!d.Final || d.Price.Amount != floor*int64(qty)) {
				t.Fatalf("turn T: %+v, want the final offer at the floor", d)
			}
		}
		if math.IsNaN(e) {
			t.Fatal("NaN exponent validated")
		}
	})
}

func nopLogger() zerolog.Logger { return zerolog.Nop() }

// FuzzUsedSessionsFile: whatever the state file holds, reading it either
// fails with an error or keeps only well-formed, live entries, and what is
// written back reads to the same entries.
func FuzzUsedSessionsFile(f *testing.F) {
	id := "0123456789abcdef0123456789abcdef"
	f.Add([]byte(id + " 1735690200000\n"))
	f.Add([]byte(id + " 1735690200000\n" + id + " 1\n"))
	f.Add([]byte(id + " 1735690200000\n0123"))
	f.Add([]byte("\n"))
	f.Add([]byte(id + "  1735690200000\n"))
	f.Add([]byte(strings.ToUpper(id) + " 1735690200000\n"))
	const nowMs = 1_735_689_600_000
	f.Fuzz(func(t *testing.T, data []byte) {
		u := &usedSessions{until: map[string]int64{}, max: 1 << 20}
		if err := u.parse(data, nowMs); err != nil {
			return
		}
		for id, until := range u.until {
			if !anp.ValidSessionID(id) || until <= nowMs {
				t.Fatalf("kept %q until %d", id, until)
			}
		}
		again := &usedSessions{until: map[string]int64{}, max: 1 << 20}
		if err := again.parse(u.live(), nowMs); err != nil || !maps.Equal(again.until, u.until) {
			t.Fatalf("what is written back reads to %v (%v), want %v", again.until, err, u.until)
		}
	})
}

// FuzzPhysicalMemory: any meminfo text gives a positive size or none.
func FuzzPhysicalMemory(f *testing.F) {
	f.Add("MemTotal:        8041352 kB\nMemFree:  1 kB\n")
	f.Add("MemTotal: 9223372036854775807 kB\n")
	f.Add("MemTotal: -5 kB\n")
	f.Add("MemTotal: 12\n")
	f.Fuzz(func(t *testing.T, text string) {
		if v, ok := memTotal(strings.NewReader(text)); ok && v <= 0 {
			t.Fatalf("physicalMemory = %d for %q", v, text)
		}
	})
}
