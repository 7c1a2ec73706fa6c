package storetest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// dealCases check what the registry's deal lifecycle keeps in a Ledger:
// one record per deal (bucket lifecycles) rewritten at every event, the
// dispute index (bucket disputes) listed in session order, and the pending
// event whose leaf is appended once and then found again byte for byte.
var dealCases = []struct {
	name string
	run  func(t *testing.T, l store.Ledger)
}{
	{"DealRecordsRewrittenPerEvent", dealRecordsRewritten},
	{"DisputeIndexListedBySession", disputeIndex},
	{"PendingEventLeafFoundAfterAppend", pendingLeafFound},
}

// session returns the i-th session id of the cases (32 hex characters).
func session(i int) string { return fmt.Sprintf("%032x", 0xdea1<<16|i) }

// dealRecord is a lifecycle record as JSON, with a pending leaf of every
// byte value (base64 in JSON) once pending is set.
func dealRecord(state string, events int, pending bool) []byte {
	rec := fmt.Sprintf(`{"life":{"session":"x","state":%q,"events":%d}`, state, events)
	if pending {
		rec += `,"pending":{"leaf":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g/w==","from":7}`
	}
	return []byte(rec + "}")
}

func dealRecordsRewritten(t *testing.T, l store.Ledger) {
	id := session(1)
	if ok, err := l.PutIfAbsent(bg, "lifecycles", id, dealRecord("awaiting_delivery", 0, false)); err != nil || !ok {
		t.Fatalf("PutIfAbsent(new deal) = %v, %v", ok, err)
	}
	if ok, err := l.PutIfAbsent(bg, "lifecycles", id, dealRecord("awaiting_delivery", 0, false)); err != nil || ok {
		t.Fatalf("PutIfAbsent(the same deal again) = %v, %v; the record must be kept", ok, err)
	}
	for i, st := range []string{"fulfilled", "disputed", "resolved"} {
		for _, pending := range []bool{true, false} {
			want := dealRecord(st, i+1, pending)
			if err := l.Put(bg, "lifecycles", id, want); err != nil {
				t.Fatal(err)
			}
			got, err := l.Get(bg, "lifecycles", id)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("after the %s event (pending %v): %q, %v", st, pending, got, err)
			}
		}
	}
}

func disputeIndex(t *testing.T, l store.Ledger) {
	for _, i := range []int{3, 1, 2} {
		mustPut(t, l, "disputes", session(i), fmt.Sprintf(`{"state":"disputed","n":%d}`, i))
		mustPut(t, l, "lifecycles", session(i), "{}")
	}
	mustPut(t, l, "disputes", session(2), `{"state":"resolved","n":2}`)
	kvs, err := l.List(bg, "disputes")
	if err != nil || len(kvs) != 3 {
		t.Fatalf("List(disputes) = %d pairs, %v", len(kvs), err)
	}
	for i, kv := range kvs {
		if kv.Key != session(i+1) {
			t.Fatalf("dispute %d is %s, want %s (session order)", i, kv.Key, session(i+1))
		}
	}
	if string(kvs[1].Value) != `{"state":"resolved","n":2}` {
		t.Fatalf("the resolved dispute reads %s", kvs[1].Value)
	}
}

func pendingLeafFound(t *testing.T, l store.Ledger) {
	for i := range 3 {
		if _, err := l.Append(bg, []byte(fmt.Sprintf("leaf %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	from, err := l.Size(bg)
	if err != nil {
		t.Fatal(err)
	}
	leaf := []byte(`{"deal_event":{"kind":"resolve","session":"` + session(9) + `"},"registry":{"sig":"\u00e9"}}`)
	idx, err := l.Append(bg, leaf)
	if err != nil || idx != from {
		t.Fatalf("Append = %d, %v; want %d", idx, err, from)
	}
	size, err := l.Size(bg)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := l.Leaves(bg, from, size)
	if err != nil || len(leaves) != 1 || !bytes.Equal(leaves[0], leaf) {
		t.Fatalf("Leaves(%d, %d) = %q, %v; want the pending leaf byte for byte", from, size, leaves, err)
	}
}
