package buyer

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/readonce"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// richRecord is the testdata record with the members copy must copy set.
func richRecord(t testing.TB) *record {
	r := readFormOne(t, formOneRecord(t))
	own := anp.Money{Amount: 9000, Currency: "USD"}
	r.Session.Terms = map[string]string{"color": "red"}
	r.Session.LastOwnOffer = &own
	r.Session.Escalation = &Escalation{Status: EscalationResolved, Outcome: "countered"}
	r.Session.Rounds = append(r.Session.Rounds, Round{Turn: 2, SellerPrice: own, OwnOffer: &own})
	r.Session.Approvals = []Approval{{Via: "person", Price: own, Outcome: OutcomeApproved, At: time.Unix(1_800_000_000, 0).UTC()}}
	return &r
}

// TestHotRecordIsTheDecodeOfItsBytes: what hotRecords hands out for the
// bytes a record was saved as equals their decode, and is a copy: changing
// it (or the saver's record) changes nothing held.
func TestHotRecordIsTheDecodeOfItsBytes(t *testing.T) {
	r := richRecord(t)
	data, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decodeStored(data, true)
	if err != nil {
		t.Fatal(err)
	}
	var h hotRecords
	sum := readonce.Sum(data)
	r.escalationNews = true
	h.put(sum, r)
	*r.Session.LastOwnOffer = anp.Money{Amount: 1, Currency: "EUR"} // the saver moves on
	r.Session.Terms["color"] = "blue"
	r.Transcript.Envelopes = append(r.Transcript.Envelopes[:1], r.Transcript.Envelopes[0])
	got, ok := h.get(r.Session.ID, sum)
	if !ok {
		t.Fatal("miss for the bytes just saved")
	}
	if !reflect.DeepEqual(unmemoised(got), *want) {
		t.Fatalf("held\n %+v\nwant the decode\n %+v", *got, *want)
	}
	*got.Session.Rounds[1].OwnOffer = anp.Money{Amount: 2, Currency: "EUR"} // the loader mutates its copy
	got.Session.Approvals[0].By = "someone"
	got.SealedKey = append([]byte{}, got.SealedKey...) // replaced whole, never changed in place
	got.SealedKey[0] ^= 1
	again, _ := h.get(r.Session.ID, sum)
	if !reflect.DeepEqual(unmemoised(again), *want) {
		t.Fatalf("a loader's change reached the held record:\n %+v", *again)
	}
	other := sum
	other[0] ^= 1
	if _, ok := h.get(r.Session.ID, other); ok {
		t.Fatal("other bytes hit the record held for these")
	}
	if _, ok := h.get("00000000000000000000000000000000", sum); ok {
		t.Fatal("another session hit the record held for this one")
	}
}

// TestHotRecordsAreBounded: at most hotRecordsSize sessions are held, the
// oldest replaced first, and a record with members copy does not copy is
// not held (and drops what was held for its session).
func TestHotRecordsAreBounded(t *testing.T) {
	var h hotRecords
	r := richRecord(t)
	ids := make([]string, hotRecordsSize+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i)
		r.Session.ID = ids[i]
		h.put([32]byte{byte(i)}, r)
		h.put([32]byte{byte(i)}, r) // again: no second slot
	}
	if len(h.m) != hotRecordsSize {
		t.Fatalf("holds %d sessions, want %d", len(h.m), hotRecordsSize)
	}
	if _, ok := h.get(ids[0], [32]byte{0}); ok {
		t.Fatal("the oldest session is still held")
	}
	if _, ok := h.get(ids[1], [32]byte{1}); !ok {
		t.Fatal("the second session is not held")
	}
	r.Session.ID = ids[1]
	r.Pending = &anp.Artifact{}
	h.put([32]byte{9}, r)
	if _, ok := h.get(ids[1], [32]byte{1}); ok {
		t.Fatal("a record with a pending artifact left the older one held")
	}
	if _, ok := h.get(ids[1], [32]byte{9}); ok {
		t.Fatal("a record with a pending artifact was held")
	}
}

// TestHotRecordsConcurrent: saves and loads of many sessions at once (run
// with -race).
func TestHotRecordsConcurrent(t *testing.T) {
	var h hotRecords
	base := richRecord(t)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				r := base.copy()
				r.Session.ID = fmt.Sprintf("%032x", (w*7+i)%12)
				sum := [32]byte{byte(i)}
				h.put(sum, r)
				if got, ok := h.get(r.Session.ID, sum); ok {
					got.Session.Turn++
					got.Session.Terms["k"] = "v"
				}
			}
		}(w)
	}
	wg.Wait()
	if len(h.m) > hotRecordsSize {
		t.Fatalf("holds %d sessions", len(h.m))
	}
}

// TestStoreWrittenElsewhereMisses: after the engine saved a session, bytes
// another process saved for it are decoded, not answered from the record
// the engine saved.
func TestStoreWrittenElsewhereMisses(t *testing.T) {
	ctx := context.Background()
	sessions := memstore.NewSessions()
	c, err := New(Config{Identity: make([]byte, 64), Registry: struct{ Registry }{}, Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	r := richRecord(t)
	if err := c.save(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := c.load(ctx, r.Session.ID); err != nil || got.Session.SellerMessage != r.Session.SellerMessage {
		t.Fatalf("load after save: %v", err)
	}
	elsewhere := r.copy()
	elsewhere.Session.SellerMessage = "written by another pod"
	data, err := encodeRecord(elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.Save(ctx, store.SessionRecord{ID: r.Session.ID, Version: r.Session.Version, Data: data}); err != nil {
		t.Fatal(err)
	}
	got, err := c.load(ctx, r.Session.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Session.SellerMessage != "written by another pod" {
		t.Fatalf("read %q, the record this engine saved", got.Session.SellerMessage)
	}
}

// The session a get reads from the held record is the one its bytes hold
// (leadingSession, the read of bytes already checked), and a reader's
// change to it reaches neither the held record nor the next reader.
func TestHotSessionIsTheSessionOfItsBytes(t *testing.T) {
	r := richRecord(t)
	data, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	want, ok := leadingSession(data)
	if !ok {
		t.Fatal("leadingSession refused the record's bytes")
	}
	var h hotRecords
	sum := readonce.Sum(data)
	h.put(sum, r)
	got, ok := h.session(r.Session.ID, sum)
	if !ok {
		t.Fatal("miss for the bytes just saved")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("held session\n %+v\nwant the session of the bytes\n %+v", got, want)
	}
	*got.Rounds[1].OwnOffer = anp.Money{Amount: 2, Currency: "EUR"}
	*got.LastSellerPrice = anp.Money{Amount: 3, Currency: "EUR"}
	got.Terms["color"] = "red"
	got.Approvals[0].By = "someone"
	again, _ := h.session(r.Session.ID, sum)
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("a reader's change reached the held session:\n %+v", again)
	}
	other := sum
	other[0] ^= 1
	if _, ok := h.session(r.Session.ID, other); ok {
		t.Fatal("other bytes hit the session held for these")
	}
}
