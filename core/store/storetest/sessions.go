package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// TestSessions checks a store.Sessions implementation.
func TestSessions(t *testing.T, newStore func(t *testing.T) store.Sessions) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Sessions)
	}{
		{"LoadMissing", sessionsLoadMissing},
		{"CreateLoadUpdate", sessionsCreateLoadUpdate},
		{"CreateTwiceConflicts", sessionsCreateTwice},
		{"StaleVersionConflicts", sessionsStaleVersion},
		{"SaveMissingWithVersionConflicts", sessionsSaveMissingWithVersion},
		{"UpdatedAt", sessionsUpdatedAt},
		{"DataIsCopied", sessionsDataIsCopied},
		{"EmptyAndBinaryData", sessionsEmptyAndBinaryData},
		{"InvalidRecords", sessionsInvalid},
		{"ListOrderedByID", sessionsList},
		{"Delete", sessionsDelete},
		{"ConcurrentSaveOneWinner", sessionsConcurrentSave},
		{"CanceledContext", sessionsCanceledContext},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

// ms is a whole-millisecond time, which every backend stores exactly.
func ms(v int64) time.Time { return time.UnixMilli(v) }

func mustSave(t *testing.T, s store.Sessions, rec store.SessionRecord) int64 {
	t.Helper()
	v, err := s.Save(context.Background(), rec)
	if err != nil {
		t.Fatalf("Save(%s, version %d): %v", rec.ID, rec.Version, err)
	}
	if v != rec.Version+1 {
		t.Fatalf("Save(%s, version %d) returned version %d, want %d", rec.ID, rec.Version, v, rec.Version+1)
	}
	return v
}

func mustLoad(t *testing.T, s store.Sessions, id string) store.SessionRecord {
	t.Helper()
	rec, err := s.Load(context.Background(), id)
	if err != nil {
		t.Fatalf("Load(%s): %v", id, err)
	}
	return rec
}

func assertRecord(t *testing.T, got store.SessionRecord, id string, version int64, data string) {
	t.Helper()
	if got.ID != id || got.Version != version || string(got.Data) != data {
		t.Fatalf("record = {%s v%d %q}, want {%s v%d %q}", got.ID, got.Version, got.Data, id, version, data)
	}
}

func sessionsLoadMissing(t *testing.T, s store.Sessions) {
	_, err := s.Load(context.Background(), "missing")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load(missing) = %v, want ErrNotFound", err)
	}
}

func sessionsCreateLoadUpdate(t *testing.T, s store.Sessions) {
	v := mustSave(t, s, store.SessionRecord{ID: "s1", Data: []byte("one"), UpdatedAt: ms(1000)})
	assertRecord(t, mustLoad(t, s, "s1"), "s1", 1, "one")
	v = mustSave(t, s, store.SessionRecord{ID: "s1", Version: v, Data: []byte("two"), UpdatedAt: ms(2000)})
	v = mustSave(t, s, store.SessionRecord{ID: "s1", Version: v, Data: []byte("three"), UpdatedAt: ms(3000)})
	if v != 3 {
		t.Fatalf("version after three saves = %d", v)
	}
	assertRecord(t, mustLoad(t, s, "s1"), "s1", 3, "three")
}

func sessionsCreateTwice(t *testing.T, s store.Sessions) {
	mustSave(t, s, store.SessionRecord{ID: "s1", Data: []byte("first"), UpdatedAt: ms(1000)})
	_, err := s.Save(context.Background(), store.SessionRecord{ID: "s1", Data: []byte("second"), UpdatedAt: ms(2000)})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create = %v, want ErrConflict", err)
	}
	got := mustLoad(t, s, "s1")
	assertRecord(t, got, "s1", 1, "first")
	if !got.UpdatedAt.Equal(ms(1000)) {
		t.Fatalf("conflicting create changed UpdatedAt to %v", got.UpdatedAt)
	}
}

func sessionsStaleVersion(t *testing.T, s store.Sessions) {
	v1 := mustSave(t, s, store.SessionRecord{ID: "s1", Data: []byte("v1"), UpdatedAt: ms(1000)})
	v2 := mustSave(t, s, store.SessionRecord{ID: "s1", Version: v1, Data: []byte("v2"), UpdatedAt: ms(2000)})
	for _, stale := range []int64{v1, v2 + 1, v2 + 100} {
		_, err := s.Save(context.Background(), store.SessionRecord{ID: "s1", Version: stale, Data: []byte("lost"), UpdatedAt: ms(9000)})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("save at version %d (stored %d) = %v, want ErrConflict", stale, v2, err)
		}
	}
	got := mustLoad(t, s, "s1")
	assertRecord(t, got, "s1", v2, "v2")
	if !got.UpdatedAt.Equal(ms(2000)) {
		t.Fatalf("conflicting save changed UpdatedAt to %v", got.UpdatedAt)
	}
	// The record still accepts the current version.
	mustSave(t, s, store.SessionRecord{ID: "s1", Version: v2, Data: []byte("v3"), UpdatedAt: ms(3000)})
}

func sessionsSaveMissingWithVersion(t *testing.T, s store.Sessions) {
	_, err := s.Save(context.Background(), store.SessionRecord{ID: "ghost", Version: 1, Data: []byte("x")})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update of a missing record = %v, want ErrConflict", err)
	}
	if _, err := s.Load(context.Background(), "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed update created the record: %v", err)
	}
}

func sessionsUpdatedAt(t *testing.T, s store.Sessions) {
	at := ms(1_700_000_000_123)
	v := mustSave(t, s, store.SessionRecord{ID: "given", Data: []byte("x"), UpdatedAt: at})
	if got := mustLoad(t, s, "given").UpdatedAt; !got.Equal(at) {
		t.Fatalf("UpdatedAt = %v, want %v", got, at)
	}
	later := at.Add(5 * time.Second)
	mustSave(t, s, store.SessionRecord{ID: "given", Version: v, Data: []byte("y"), UpdatedAt: later})
	if got := mustLoad(t, s, "given").UpdatedAt; !got.Equal(later) {
		t.Fatalf("UpdatedAt after update = %v, want %v", got, later)
	}
	// A zero UpdatedAt is filled in with the time of the save.
	before := time.Now().Truncate(time.Millisecond)
	mustSave(t, s, store.SessionRecord{ID: "zero", Data: []byte("x")})
	after := time.Now().Add(time.Millisecond)
	got := mustLoad(t, s, "zero").UpdatedAt
	if got.Before(before) || got.After(after) {
		t.Fatalf("zero UpdatedAt stored as %v, want between %v and %v", got, before, after)
	}
}

func sessionsDataIsCopied(t *testing.T, s store.Sessions) {
	data := []byte("original")
	mustSave(t, s, store.SessionRecord{ID: "s1", Data: data, UpdatedAt: ms(1)})
	copy(data, "XXXXXXXX")
	got := mustLoad(t, s, "s1")
	if string(got.Data) != "original" {
		t.Fatalf("store kept the caller's slice: %q", got.Data)
	}
	copy(got.Data, "YYYYYYYY")
	if again := mustLoad(t, s, "s1"); string(again.Data) != "original" {
		t.Fatalf("store handed out its own slice: %q", again.Data)
	}
	list, err := s.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("List: %v %v", list, err)
	}
	copy(list[0].Data, "ZZZZZZZZ")
	if again := mustLoad(t, s, "s1"); string(again.Data) != "original" {
		t.Fatalf("List handed out the store's slice: %q", again.Data)
	}
}

func sessionsEmptyAndBinaryData(t *testing.T, s store.Sessions) {
	mustSave(t, s, store.SessionRecord{ID: "nil", UpdatedAt: ms(1)})
	mustSave(t, s, store.SessionRecord{ID: "empty", Data: []byte{}, UpdatedAt: ms(1)})
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	mustSave(t, s, store.SessionRecord{ID: "binary", Data: bin, UpdatedAt: ms(1)})
	for _, id := range []string{"nil", "empty"} {
		if got := mustLoad(t, s, id); len(got.Data) != 0 {
			t.Fatalf("%s: Data = %q", id, got.Data)
		}
	}
	if got := mustLoad(t, s, "binary"); !bytes.Equal(got.Data, bin) {
		t.Fatalf("binary data changed: %x", got.Data)
	}
}

func sessionsInvalid(t *testing.T, s store.Sessions) {
	for _, rec := range []store.SessionRecord{
		{ID: "", Data: []byte("x")},
		{ID: "neg", Version: -1, Data: []byte("x")},
	} {
		_, err := s.Save(context.Background(), rec)
		if err == nil || errors.Is(err, store.ErrConflict) {
			t.Fatalf("Save(%q, version %d) = %v, want a validation error", rec.ID, rec.Version, err)
		}
	}
	if list, err := s.List(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("invalid saves stored something: %v %v", list, err)
	}
}

// orderedIDs are in byte order, which List must follow: upper case before
// lower case, shorter prefixes first, UTF-8 after ASCII.
var orderedIDs = []string{"0", "A", "B", "a", "a1", "a10", "a2", "b", "z", "é", "ø", "中"}

func sessionsList(t *testing.T, s store.Sessions) {
	if list, err := s.List(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("empty store lists %v, %v", list, err)
	}
	// Save in a scrambled order.
	for i := range orderedIDs {
		id := orderedIDs[(i*7+3)%len(orderedIDs)]
		mustSave(t, s, store.SessionRecord{ID: id, Data: []byte("data-" + id), UpdatedAt: ms(int64(i + 1))})
	}
	v := mustLoad(t, s, "b").Version
	mustSave(t, s, store.SessionRecord{ID: "b", Version: v, Data: []byte("data-b2"), UpdatedAt: ms(100)})
	list, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(orderedIDs) {
		t.Fatalf("List has %d records, want %d", len(list), len(orderedIDs))
	}
	for i, rec := range list {
		want, version := "data-"+orderedIDs[i], int64(1)
		if rec.ID == "b" {
			want, version = "data-b2", 2
		}
		assertRecord(t, rec, orderedIDs[i], version, want)
		if rec.UpdatedAt.IsZero() {
			t.Fatalf("List record %s has no UpdatedAt", rec.ID)
		}
	}
}

func sessionsDelete(t *testing.T, s store.Sessions) {
	ctx := context.Background()
	mustSave(t, s, store.SessionRecord{ID: "keep", Data: []byte("k"), UpdatedAt: ms(1)})
	mustSave(t, s, store.SessionRecord{ID: "drop", Data: []byte("d"), UpdatedAt: ms(1)})
	if err := s.Delete(ctx, "drop"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "drop"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "drop"); err != nil {
		t.Fatalf("deleting a missing record = %v, want nil", err)
	}
	if err := s.Delete(ctx, "never-existed"); err != nil {
		t.Fatalf("deleting a missing record = %v, want nil", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "keep" {
		t.Fatalf("List after Delete = %v, %v", list, err)
	}
	// A deleted id can be created again from version 0.
	mustSave(t, s, store.SessionRecord{ID: "drop", Data: []byte("again"), UpdatedAt: ms(2)})
	assertRecord(t, mustLoad(t, s, "drop"), "drop", 1, "again")
}

// sessionsConcurrentSave has 32 writers save over the same version: exactly
// one may win, and the stored data must be the winner's.
func sessionsConcurrentSave(t *testing.T, s store.Sessions) {
	const writers = 32
	v := mustSave(t, s, store.SessionRecord{ID: "hot", Data: []byte("start"), UpdatedAt: ms(1)})
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		results   = make([]error, writers)
		versions  = make([]int64, writers)
		creations = make([]error, writers)
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec := store.SessionRecord{ID: "hot", Version: v, Data: fmt.Appendf(nil, "writer-%d", i), UpdatedAt: ms(2)}
			versions[i], results[i] = s.Save(context.Background(), rec)
			_, creations[i] = s.Save(context.Background(), store.SessionRecord{ID: "new", Data: fmt.Appendf(nil, "creator-%d", i), UpdatedAt: ms(2)})
		}()
	}
	close(start)
	wg.Wait()
	winner, created := -1, -1
	for i := range writers {
		switch err := results[i]; {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both saved over version %d", winner, i, v)
			}
			winner = i
			if versions[i] != v+1 {
				t.Fatalf("winner got version %d, want %d", versions[i], v+1)
			}
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("writer %d: %v, want nil or ErrConflict", i, err)
		}
		switch err := creations[i]; {
		case err == nil:
			if created >= 0 {
				t.Fatalf("creators %d and %d both created the record", created, i)
			}
			created = i
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("creator %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 || created < 0 {
		t.Fatalf("no writer won (update winner %d, create winner %d)", winner, created)
	}
	assertRecord(t, mustLoad(t, s, "hot"), "hot", v+1, fmt.Sprintf("writer-%d", winner))
	assertRecord(t, mustLoad(t, s, "new"), "new", 1, fmt.Sprintf("creator-%d", created))
}

func sessionsCanceledContext(t *testing.T, s store.Sessions) {
	mustSave(t, s, store.SessionRecord{ID: "s1", Data: []byte("x"), UpdatedAt: ms(1)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Load(ctx, "s1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := s.Save(ctx, store.SessionRecord{ID: "s2", Data: []byte("x")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := s.Load(context.Background(), "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Save with a canceled context stored the record: %v", err)
	}
}
