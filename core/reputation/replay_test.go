package reputation

import (
	"crypto/ed25519"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// replayLog is a registry's chain of one key, valid for the whole test
// time, a deal it logged at leaf 0, and a replayer of its log that has
// read that leaf.
type replayLog struct {
	reg   ed25519.PrivateKey
	entry anp.KeyEntry
	deal  *anp.Artifact
	leaf  []byte
	r     *Replayer
}

func newReplayLog(t testing.TB) *replayLog {
	t.Helper()
	root, reg := anptest.SeedKey(9), anptest.SeedKey(10)
	entry, err := anp.NewKeyEntry(root, nil, reg.Public().(ed25519.PublicKey), at(0), at(400))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := notarisedLeaf(t, anptest.SeedKey(1), anptest.SeedKey(2), 1250, at(3))
	if err := a.Countersign(reg, entry, at(3)); err != nil { // by this chain's key
		t.Fatal(err)
	}
	leaf, err := a.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	l := &replayLog{reg: reg, entry: entry, deal: a, leaf: leaf, r: NewReplayer(anptest.PubHex(root), []anp.KeyEntry{entry})}
	if facts, err := l.r.Facts(0, leaf); err != nil || len(facts) != 1 {
		t.Fatalf("the deal's leaf: %v, %v", facts, err)
	}
	return l
}

// breach is the leaf of a breach of the deal, countersigned at at.
func (l *replayLog) breach(t testing.TB, at time.Time) []byte {
	t.Helper()
	return breachLeafBy(t, l.deal, l.reg, l.entry, at)
}

// TestReplayerCountsOnlyWhatTheRulesAllow: the deal's deliver_by is day
// 10 (agreed on day 3, the default seven days). A breach countersigned on
// day 4 gives no fact and leaves the deal as it was; the one of day 11
// gives its fact, as FactsFromLeaf does; a second one is refused.
func TestReplayerCountsOnlyWhatTheRulesAllow(t *testing.T) {
	l := newReplayLog(t)
	early := l.breach(t, at(4))
	if facts, err := FactsFromLeaf(1, early); err != nil || len(facts) != 1 {
		t.Fatalf("read on its own, the early breach is %v, %v; want its fact", facts, err)
	}
	if facts, err := l.r.Facts(1, early); !errors.Is(err, ErrEventRefused) || !errors.Is(err, anp.ErrDeadline) || facts != nil {
		t.Fatalf("replayed, the early breach gives %v, %v; want it refused for its deadline", facts, err)
	}
	due := l.breach(t, at(11))
	want, err := FactsFromLeaf(2, due)
	if err != nil {
		t.Fatal(err)
	}
	if facts, err := l.r.Facts(2, due); err != nil || !reflect.DeepEqual(facts, want) {
		t.Fatalf("replayed, the breach after deliver_by gives %v, %v; want %v", facts, err, want)
	}
	if _, err := l.r.Facts(3, l.breach(t, at(12))); !errors.Is(err, ErrEventRefused) {
		t.Fatalf("a second breach: %v, want it refused", err)
	}
}

// FuzzReplayerFacts: whatever a leaf after the deal holds, replaying it
// never gives a fact that reading it on its own does not, and every
// refusal is named.
func FuzzReplayerFacts(f *testing.F) {
	l := newReplayLog(f)
	f.Add(l.breach(f, at(4)))
	f.Add(l.breach(f, at(11)))
	f.Add(l.leaf)
	f.Add([]byte(`{"deal_event":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newReplayLog(t)
		facts, err := l.r.Facts(1, data)
		if err != nil {
			if facts != nil || !(errors.Is(err, ErrLeafFormat) || errors.Is(err, ErrLeafSignature) || errors.Is(err, ErrEventRefused)) {
				t.Fatalf("error %v with facts %v, or not a named error", err, facts)
			}
			return
		}
		alone, err := FactsFromLeaf(1, data)
		if err != nil || !reflect.DeepEqual(facts, alone) {
			t.Fatalf("replayed %v; read on its own %v, %v", facts, alone, err)
		}
	})
}
