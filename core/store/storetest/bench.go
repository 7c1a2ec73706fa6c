package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// BenchSessionSaveLoad measures one optimistic update (Save at the current
// version) followed by one Load of a 2 KiB session record, the round trip a
// buyer makes per negotiation turn. Backends call it from their
// BenchmarkSessionSaveLoad.
func BenchSessionSaveLoad(b *testing.B, s store.Sessions) {
	ctx := context.Background()
	data := make([]byte, 2048)
	for i := range data {
		data[i] = byte(i)
	}
	const sessions = 16
	ids := make([]string, sessions)
	versions := make([]int64, sessions)
	for i := range versions {
		ids[i] = fmt.Sprintf("bench-%02d", i)
		v, err := s.Save(ctx, store.SessionRecord{ID: ids[i], Data: data, UpdatedAt: time.UnixMilli(1)})
		if err != nil {
			b.Fatal(err)
		}
		versions[i] = v
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		n := i % sessions
		id := ids[n]
		v, err := s.Save(ctx, store.SessionRecord{ID: id, Version: versions[n], Data: data, UpdatedAt: time.UnixMilli(int64(i))})
		if err != nil {
			b.Fatal(err)
		}
		versions[n] = v
		rec, err := s.Load(ctx, id)
		if err != nil || rec.Version != v {
			b.Fatalf("Load(%s) = v%d, %v; want v%d", id, rec.Version, err, v)
		}
		i++
	}
}
