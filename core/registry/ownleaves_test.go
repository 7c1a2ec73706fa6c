package registry

import (
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/reputation"
)

// TestOwnLeavesAnswerOnlyForTheirBytes: remembered facts answer for their
// index and the exact bytes of the leaf, once; other bytes at the index (a
// leaf another writer appended there) or another index miss.
func TestOwnLeavesAnswerOnlyForTheirBytes(t *testing.T) {
	o := newOwnLeaves(4)
	facts := []reputation.Fact{reputation.Fulfilled{Ref: reputation.Ref{Leaf: 3, Session: "s"}}}
	o.add(3, []byte("leaf three"), facts)
	if _, ok := o.take(4, []byte("leaf three")); ok {
		t.Fatal("facts answered for another index")
	}
	if _, ok := o.take(3, []byte("leaf three!")); ok {
		t.Fatal("facts answered for other bytes")
	}
	o.add(3, []byte("leaf three"), facts)
	if got, ok := o.take(3, []byte("leaf three")); !ok || len(got) != 1 || got[0] != facts[0] {
		t.Fatalf("take = %+v, %v", got, ok)
	}
	if _, ok := o.take(3, []byte("leaf three")); ok {
		t.Fatal("facts answered twice")
	}
}

// TestOwnLeavesAreBounded: the memo never holds more than its bound, also
// under concurrent use (for -race).
func TestOwnLeavesAreBounded(t *testing.T) {
	o := newOwnLeaves(3)
	concurrently(3, 50, func(g, i int) {
		idx := uint64(g*100 + i)
		o.add(idx, []byte{byte(i)}, nil)
		o.take(idx+1, []byte{byte(i)})
	})
	if len(o.m) > 3 {
		t.Fatalf("the memo holds %d leaves, want at most 3", len(o.m))
	}
}
