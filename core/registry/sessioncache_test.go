package registry

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/internal/readonce"
)

// cachedSession is a session record as the registry stores it, and its bytes.
func cachedSession(t *testing.T, id string, active int64) (*witnessSession, []byte) {
	t.Helper()
	ws := &witnessSession{ID: id, Domain: "pans.anp", Buyer: "b", BuyerKey: "bk", SellerKey: "sk", Active: active,
		Transcript: anp.Transcript{Envelopes: []*anp.Envelope{{V: 1, Type: anp.TypePropose, Session: id, Body: []byte(`{"a":1}`)}}, Head: "h"}}
	data, err := encodeSession(ws)
	if err != nil {
		t.Fatal(err)
	}
	return ws, data
}

// TestDecodedSessionsAnswerOnlyForTheirBytes: an entry answers for its id
// and the digest of its bytes only: other bytes of the same session (a
// write by another replica), or the same bytes under another id, miss.
func TestDecodedSessionsAnswerOnlyForTheirBytes(t *testing.T) {
	c := newDecodedSessions(4)
	ws, data := cachedSession(t, "s1", 1)
	_, other := cachedSession(t, "s1", 2)
	c.put(ws.ID, readonce.Sum(data), ws, envelopesSpan{})
	if _, _, ok := c.get("s1", readonce.Sum(other)); ok {
		t.Fatal("an entry answered for other bytes of its session")
	}
	if _, _, ok := c.get("s2", readonce.Sum(data)); ok {
		t.Fatal("an entry answered for another session")
	}
	got, _, ok := c.get("s1", readonce.Sum(data))
	if !ok || !reflect.DeepEqual(got, ws) {
		t.Fatalf("get = %+v, %v; want the session put", got, ok)
	}
	c.forget("s1")
	if _, _, ok := c.get("s1", readonce.Sum(data)); ok {
		t.Fatal("a forgotten entry answered")
	}
}

// TestDecodedSessionsHandOutCopies: neither what put was given nor what
// get returns shares anything a caller changes with the entry.
func TestDecodedSessionsHandOutCopies(t *testing.T) {
	c := newDecodedSessions(4)
	ws, data := cachedSession(t, "s1", 1)
	sum := readonce.Sum(data)
	c.put(ws.ID, sum, ws, envelopesSpan{})
	ws.Closed, ws.Transcript.Envelopes[0].Seq = anp.TypeCancel, 9
	got, _, _ := c.get("s1", sum)
	got.Transcript.Envelopes = append(got.Transcript.Envelopes, &anp.Envelope{Seq: 2})
	got.Transcript.Envelopes[0].Nonce = "changed"
	again, _, _ := c.get("s1", sum)
	want, _ := cachedSession(t, "s1", 1)
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("the entry changed with its copies: %+v", again)
	}
}

// TestDecodedSessionsAreBounded: past max sessions the oldest go first, and
// putting a session again does not take a second place.
func TestDecodedSessionsAreBounded(t *testing.T) {
	c := newDecodedSessions(3)
	sums := map[string][32]byte{}
	for i := range 10 {
		id := fmt.Sprintf("s%d", i%5)
		ws, data := cachedSession(t, id, int64(i))
		sums[id] = readonce.Sum(data)
		c.put(ws.ID, sums[id], ws, envelopesSpan{})
		if len(c.entries) > 3 || len(c.order) > 3 {
			t.Fatalf("after %d puts: %d entries, %d in order; want at most 3", i+1, len(c.entries), len(c.order))
		}
	}
	for id, sum := range sums {
		_, _, ok := c.get(id, sum)
		if want := id == "s2" || id == "s3" || id == "s4"; ok != want {
			t.Fatalf("%s remembered: %v, want %v", id, ok, want)
		}
	}
}

// TestDecodedSessionsConcurrently puts, gets and forgets from several
// goroutines (for -race); every hit is the session of its bytes.
func TestDecodedSessionsConcurrently(t *testing.T) {
	c := newDecodedSessions(4)
	concurrently(4, 200, func(g, i int) {
		id := fmt.Sprintf("s%d", (g+i)%6)
		ws, data := cachedSession(t, id, int64(i%3))
		sum := readonce.Sum(data)
		c.put(ws.ID, sum, ws, envelopesSpan{})
		if got, _, ok := c.get(id, sum); ok && got.Active != int64(i%3) {
			t.Errorf("%s: a hit for the bytes of Active %d returned %d", id, i%3, got.Active)
		}
		if i%7 == 0 {
			c.forget(id)
		}
	})
}

// concurrently runs step(g, i) for i below rounds in each of goroutines
// goroutines, and waits for them.
func concurrently(goroutines, rounds int, step func(g, i int)) {
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				step(g, i)
			}
		})
	}
	wg.Wait()
}

// TestStoredSessionReadsItsBytes: a session the registry saved and
// remembers decoded is the strict decoding of its stored bytes; once
// another writer (a replica sharing the store) changes those bytes, a read
// returns the new ones.
func TestStoredSessionReadsItsBytes(t *testing.T) {
	e, owner, b := proposedSession(t)
	b.relay(owner, b.Seal(anp.TypeCounter, anp.OfferBody{Price: anptest.USD(5000), Turn: 2}))
	ctx := context.Background()
	data, err := e.ledger.Get(ctx, bucketSessions, b.Session)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.srv.decoded.get(b.Session, readonce.Sum(data)); !ok {
		t.Fatal("the saved session is not remembered decoded")
	}
	loaded, err := e.srv.loadSession(ctx, b.Session)
	if err != nil {
		t.Fatal(err)
	}
	strict, err := decodeSession(data)
	if err != nil {
		t.Fatal(err)
	}
	strict.size, strict.stored = int64(len(data)), true
	if !bytes.Contains(data, loaded.envs) || loaded.envsCount != len(loaded.Transcript.Envelopes) {
		t.Fatalf("the loaded session knows %d envelopes' encodings of %d", loaded.envsCount, len(loaded.Transcript.Envelopes))
	}
	loaded.envs, loaded.envsCount = nil, 0
	if !reflect.DeepEqual(loaded, strict) {
		t.Fatalf("remembered session differs from its stored bytes:\n%+v\n%+v", loaded, strict)
	}
	strict.Active++
	changed, err := encodeSession(strict)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.Put(ctx, bucketSessions, b.Session, changed); err != nil {
		t.Fatal(err)
	}
	again, err := e.srv.loadSession(ctx, b.Session)
	if err != nil {
		t.Fatal(err)
	}
	if again.Active != strict.Active {
		t.Fatalf("after another writer's save: active %d, want %d", again.Active, strict.Active)
	}
}

// proposedSession is a registry with seller pans.anp and a buyer's session
// with it, opened by a PROPOSE through the buyer's client.
func proposedSession(t *testing.T) (*testEnv, *Client, *buyerSession) {
	e := newEnv(t, nil)
	e.addSeller("pans.anp")
	owner := e.client(anptest.NewKey(t))
	b := newBuyerSession(t, e.clock, "pans.anp")
	b.relay(owner, b.Seal(anp.TypePropose, proposeBody()))
	return e, owner, b
}
