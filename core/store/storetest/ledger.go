package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// TestLedger checks a store.Ledger implementation.
func TestLedger(t *testing.T, newStore func(t *testing.T) store.Ledger) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, l store.Ledger)
	}{
		{"GetMissing", ledgerGetMissing},
		{"PutGetOverwrite", ledgerPutGet},
		{"BucketsAreSeparate", ledgerBuckets},
		{"PutIfAbsent", ledgerPutIfAbsent},
		{"ConcurrentPutIfAbsentOneWinner", ledgerConcurrentPutIfAbsent},
		{"ListOrderedByKey", ledgerList},
		{"ListPrefix", ledgerListPrefix},
		{"Delete", ledgerDelete},
		{"ValuesAreCopied", ledgerCopies},
		{"AppendDenseIndexes", ledgerAppend},
		{"ConcurrentAppendDense", ledgerConcurrentAppend},
		{"LeavesRanges", ledgerLeaves},
		{"CanceledContext", ledgerCanceledContext},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
	for _, tc := range treeCases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
	for _, tc := range dealCases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

var bg = context.Background()

func mustPut(t *testing.T, l store.Ledger, bucket, key, value string) {
	t.Helper()
	if err := l.Put(bg, bucket, key, []byte(value)); err != nil {
		t.Fatalf("Put(%s, %s): %v", bucket, key, err)
	}
}

func assertGet(t *testing.T, l store.Ledger, bucket, key, want string) {
	t.Helper()
	got, err := l.Get(bg, bucket, key)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", bucket, key, err)
	}
	if string(got) != want {
		t.Fatalf("Get(%s, %s) = %q, want %q", bucket, key, got, want)
	}
}

func ledgerGetMissing(t *testing.T, l store.Ledger) {
	if _, err := l.Get(bg, "b", "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	mustPut(t, l, "b", "k", "v")
	if _, err := l.Get(bg, "other", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get from another bucket = %v, want ErrNotFound", err)
	}
}

func ledgerPutGet(t *testing.T, l store.Ledger) {
	mustPut(t, l, "domains", "shop.anp", "binding-1")
	assertGet(t, l, "domains", "shop.anp", "binding-1")
	mustPut(t, l, "domains", "shop.anp", "binding-2")
	assertGet(t, l, "domains", "shop.anp", "binding-2")
	mustPut(t, l, "domains", "empty.anp", "")
	assertGet(t, l, "domains", "empty.anp", "")
	bin := string([]byte{0, 1, 2, 0xff, 0xfe, 0})
	mustPut(t, l, "domains", "binary.anp", bin)
	assertGet(t, l, "domains", "binary.anp", bin)
}

func ledgerBuckets(t *testing.T, l store.Ledger) {
	mustPut(t, l, "a", "k", "in-a")
	mustPut(t, l, "b", "k", "in-b")
	mustPut(t, l, "a/b", "k", "in-a/b")
	assertGet(t, l, "a", "k", "in-a")
	assertGet(t, l, "b", "k", "in-b")
	assertGet(t, l, "a/b", "k", "in-a/b")
	for bucket, n := range map[string]int{"a": 1, "b": 1, "a/b": 1, "c": 0} {
		kvs, err := l.List(bg, bucket)
		if err != nil || len(kvs) != n {
			t.Fatalf("List(%s) = %v, %v; want %d pairs", bucket, kvs, err, n)
		}
	}
}

func ledgerPutIfAbsent(t *testing.T, l store.Ledger) {
	ok, err := l.PutIfAbsent(bg, "records", "k", []byte("first"))
	if err != nil || !ok {
		t.Fatalf("first PutIfAbsent = %v, %v; want true", ok, err)
	}
	ok, err = l.PutIfAbsent(bg, "records", "k", []byte("second"))
	if err != nil || ok {
		t.Fatalf("second PutIfAbsent = %v, %v; want false", ok, err)
	}
	assertGet(t, l, "records", "k", "first")
	ok, err = l.PutIfAbsent(bg, "other", "k", []byte("elsewhere"))
	if err != nil || !ok {
		t.Fatalf("PutIfAbsent in another bucket = %v, %v; want true", ok, err)
	}
	// Put still overwrites a key written by PutIfAbsent.
	mustPut(t, l, "records", "k", "third")
	assertGet(t, l, "records", "k", "third")
}

func ledgerConcurrentPutIfAbsent(t *testing.T, l store.Ledger) {
	const writers = 16
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		won   = make([]bool, writers)
		errs  = make([]error, writers)
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			won[i], errs[i] = l.PutIfAbsent(bg, "race", "k", fmt.Appendf(nil, "writer-%d", i))
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range writers {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		if won[i] {
			if winner >= 0 {
				t.Fatalf("writers %d and %d both won PutIfAbsent", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no writer won PutIfAbsent")
	}
	assertGet(t, l, "race", "k", fmt.Sprintf("writer-%d", winner))
}

func ledgerList(t *testing.T, l store.Ledger) {
	if kvs, err := l.List(bg, "empty"); err != nil || len(kvs) != 0 {
		t.Fatalf("List(empty) = %v, %v", kvs, err)
	}
	for i := range orderedIDs {
		k := orderedIDs[(i*5+1)%len(orderedIDs)]
		mustPut(t, l, "b", k, "v-"+k)
	}
	mustPut(t, l, "b", "a", "v-a-new")
	mustPut(t, l, "zz-other-bucket", "0", "not listed")
	kvs, err := l.List(bg, "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != len(orderedIDs) {
		t.Fatalf("List has %d pairs, want %d", len(kvs), len(orderedIDs))
	}
	for i, kv := range kvs {
		want := "v-" + orderedIDs[i]
		if kv.Key == "a" {
			want = "v-a-new"
		}
		if kv.Key != orderedIDs[i] || string(kv.Value) != want {
			t.Fatalf("List[%d] = {%q %q}, want {%q %q}", i, kv.Key, kv.Value, orderedIDs[i], want)
		}
	}
}

// ledgerListPrefix: ListPrefix returns exactly the keys that start with
// the prefix, in key order, whatever the prefix holds: the wildcards and
// escapes of SQL LIKE, GLOB and Redis MATCH are plain characters, and a
// prefix that ends inside a UTF-8 character still matches.
func ledgerListPrefix(t *testing.T, l store.Ledger) {
	keys := []string{"a", "ab", "ab/1", "ab/2", "abc", "a%b/1", "axb/1", "a_b/1", "a*b/1", "a?b/1",
		"a[b]/1", "ab]/1", `a\b/1`, `a\\b/1`, "é/1", "éa", "b/1", ""}
	for _, k := range keys {
		mustPut(t, l, "p", k, "v-"+k)
	}
	mustPut(t, l, "p-other", "ab/1", "not listed")
	for _, prefix := range []string{"", "a", "ab/", "a%", "a_", "a*", "a?", "a[", "a[b]", "ab]", `a\`, `a\\`, "é", "\xc3", "zz", "a%b/1", "a%b/1/"} {
		got, err := l.ListPrefix(bg, "p", prefix)
		if err != nil {
			t.Fatalf("ListPrefix(%q): %v", prefix, err)
		}
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		gotKeys := make([]string, len(got))
		for i, kv := range got {
			gotKeys[i] = kv.Key
			if string(kv.Value) != "v-"+kv.Key {
				t.Fatalf("ListPrefix(%q): %q holds %q", prefix, kv.Key, kv.Value)
			}
		}
		if !slices.Equal(gotKeys, want) {
			t.Fatalf("ListPrefix(%q) = %q, want %q", prefix, gotKeys, want)
		}
	}
}

func ledgerDelete(t *testing.T, l store.Ledger) {
	mustPut(t, l, "sessions", "s1", "one")
	mustPut(t, l, "sessions", "s2", "two")
	mustPut(t, l, "other", "s1", "elsewhere")
	if err := l.Delete(bg, "sessions", "s1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := l.Get(bg, "sessions", "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	assertGet(t, l, "sessions", "s2", "two")
	assertGet(t, l, "other", "s1", "elsewhere")
	if kvs, err := l.List(bg, "sessions"); err != nil || len(kvs) != 1 || kvs[0].Key != "s2" {
		t.Fatalf("List after Delete = %v, %v; want only s2", kvs, err)
	}
	for _, k := range []string{"s1", "never-written"} {
		if err := l.Delete(bg, "sessions", k); err != nil {
			t.Fatalf("Delete of missing key %q: %v", k, err)
		}
	}
	if err := l.Delete(bg, "no-such-bucket", "k"); err != nil {
		t.Fatalf("Delete in a missing bucket: %v", err)
	}
	// A deleted key may be written again, also with PutIfAbsent.
	if ok, err := l.PutIfAbsent(bg, "sessions", "s1", []byte("again")); err != nil || !ok {
		t.Fatalf("PutIfAbsent after Delete = %v, %v; want true", ok, err)
	}
}

func ledgerCopies(t *testing.T, l store.Ledger) {
	v := []byte("value")
	if err := l.Put(bg, "b", "k", v); err != nil {
		t.Fatal(err)
	}
	leaf := []byte("leaf")
	if _, err := l.Append(bg, leaf); err != nil {
		t.Fatal(err)
	}
	copy(v, "XXXXX")
	copy(leaf, "YYYY")
	got, err := l.Get(bg, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	copy(got, "ZZZZZ")
	kvs, err := l.List(bg, "b")
	if err != nil || len(kvs) != 1 {
		t.Fatalf("List = %v, %v", kvs, err)
	}
	copy(kvs[0].Value, "WWWWW")
	leaves, err := l.Leaves(bg, 0, 1)
	if err != nil || len(leaves) != 1 {
		t.Fatalf("Leaves = %q, %v", leaves, err)
	}
	copy(leaves[0], "VVVV")
	assertGet(t, l, "b", "k", "value")
	if leaves, err := l.Leaves(bg, 0, 1); err != nil || string(leaves[0]) != "leaf" {
		t.Fatalf("leaf changed through an aliased slice: %q %v", leaves, err)
	}
}

func mustSize(t *testing.T, l store.Ledger) uint64 {
	t.Helper()
	n, err := l.Size(bg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ledgerAppend(t *testing.T, l store.Ledger) {
	if n := mustSize(t, l); n != 0 {
		t.Fatalf("empty log has size %d", n)
	}
	for i := range 5 {
		idx, err := l.Append(bg, fmt.Appendf(nil, "leaf-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if idx != uint64(i) {
			t.Fatalf("Append %d returned index %d", i, idx)
		}
		if n := mustSize(t, l); n != uint64(i+1) {
			t.Fatalf("size after %d appends = %d", i+1, n)
		}
	}
	// Identical leaves are separate entries.
	a, err1 := l.Append(bg, []byte("same"))
	b, err2 := l.Append(bg, []byte("same"))
	if err1 != nil || err2 != nil || a != 5 || b != 6 {
		t.Fatalf("appending equal leaves: %d %v, %d %v", a, err1, b, err2)
	}
	if idx, err := l.Append(bg, nil); err != nil || idx != 7 {
		t.Fatalf("appending an empty leaf: %d %v", idx, err)
	}
}

// ledgerConcurrentAppend has 16 appenders add leaves at once; the indexes
// must be exactly 0..n-1 and each index must hold the leaf it was returned for.
func ledgerConcurrentAppend(t *testing.T, l store.Ledger) {
	const appenders, each = 16, 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
		got   = map[uint64]string{}
		errs  = make(chan error, appenders*each)
	)
	for a := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				leaf := fmt.Sprintf("appender-%d-leaf-%d", a, i)
				idx, err := l.Append(bg, []byte(leaf))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := got[idx]; dup {
					errs <- fmt.Errorf("index %d returned for %q and %q", idx, prev, leaf)
				}
				got[idx] = leaf
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const total = appenders * each
	if n := mustSize(t, l); n != total {
		t.Fatalf("size = %d, want %d", n, total)
	}
	leaves, err := l.Leaves(bg, 0, total)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaves) != total {
		t.Fatalf("Leaves returned %d, want %d", len(leaves), total)
	}
	for i := range uint64(total) {
		want, ok := got[i]
		if !ok {
			t.Fatalf("index %d was never returned: indexes are not dense", i)
		}
		if string(leaves[i]) != want {
			t.Fatalf("leaf %d = %q, but Append returned %d for %q", i, leaves[i], i, want)
		}
	}
}

func ledgerLeaves(t *testing.T, l store.Ledger) {
	if leaves, err := l.Leaves(bg, 0, 0); err != nil || len(leaves) != 0 {
		t.Fatalf("Leaves(0,0) of an empty log = %v, %v", leaves, err)
	}
	for i := range 6 {
		if _, err := l.Append(bg, fmt.Appendf(nil, "L%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		from, to uint64
		want     []string
	}{
		{0, 6, []string{"L0", "L1", "L2", "L3", "L4", "L5"}},
		{2, 5, []string{"L2", "L3", "L4"}},
		{5, 6, []string{"L5"}},
		{3, 3, nil},
		{6, 6, nil},
		{0, 1, []string{"L0"}},
	} {
		leaves, err := l.Leaves(bg, tc.from, tc.to)
		if err != nil {
			t.Fatalf("Leaves(%d,%d): %v", tc.from, tc.to, err)
		}
		if len(leaves) != len(tc.want) {
			t.Fatalf("Leaves(%d,%d) returned %d leaves, want %d", tc.from, tc.to, len(leaves), len(tc.want))
		}
		for i := range leaves {
			if !bytes.Equal(leaves[i], []byte(tc.want[i])) {
				t.Fatalf("Leaves(%d,%d)[%d] = %q, want %q", tc.from, tc.to, i, leaves[i], tc.want[i])
			}
		}
	}
	for _, r := range [][2]uint64{{4, 2}, {0, 7}, {6, 7}, {7, 7}, {0, ^uint64(0)}, {^uint64(0), ^uint64(0)}} {
		if leaves, err := l.Leaves(bg, r[0], r[1]); err == nil {
			t.Fatalf("Leaves(%d,%d) of a 6-leaf log = %q, want an error", r[0], r[1], leaves)
		}
	}
}

func ledgerCanceledContext(t *testing.T, l store.Ledger) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := l.Append(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a canceled context = %v, want context.Canceled", err)
	}
	if err := l.Put(ctx, "b", "k", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := l.Get(ctx, "b", "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context = %v, want context.Canceled", err)
	}
	if n := mustSize(t, l); n != 0 {
		t.Errorf("the canceled Append added a leaf: size %d", n)
	}
	if _, err := l.Get(bg, "b", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the canceled Put stored a value: %v", err)
	}
}
