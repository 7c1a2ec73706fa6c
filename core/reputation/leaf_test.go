package reputation

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// notarisedLeaf returns the log leaf of a deal between seller key s and
// buyer key b, countersigned by a one-key registry chain.
func notarisedLeaf(t testing.TB, s, b ed25519.PrivateKey, price int64, at time.Time) (*anp.Artifact, []byte) {
	t.Helper()
	terms := anp.DealTerms{
		V: anp.Version, SessionID: strings.Repeat("ab", 16), Mode: anp.ModeC,
		SellerDomain: "shop.example", SellerKey: anptest.PubHex(s), BuyerKey: anptest.PubHex(b),
		Item: "kettle", Quantity: 1, Price: anptest.USD(price),
		TranscriptHead: strings.Repeat("cd", 32), TranscriptLen: 4,
		AgreedAt: at.UnixMilli() - 10, CreatedAt: at.UnixMilli() - 5,
	}
	a := anptest.SignDeal(t, terms, b, s)
	root := anptest.SeedKey(9)
	reg := anptest.SeedKey(10)
	entry, err := anp.NewKeyEntry(root, nil, reg.Public().(ed25519.PublicKey), at.Add(-time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Countersign(reg, entry, at); err != nil {
		t.Fatal(err)
	}
	leaf, err := a.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	return a, leaf
}

func TestFactsFromADealLeaf(t *testing.T) {
	s, b := anptest.SeedKey(1), anptest.SeedKey(2)
	a, leaf := notarisedLeaf(t, s, b, 1250, at(3))
	facts, err := FactsFromLeaf(7, leaf)
	if err != nil {
		t.Fatal(err)
	}
	want := DealSigned{Ref: Ref{Leaf: 7, Session: a.Terms.SessionID, At: ms(3)}, Seller: "shop.example",
		Buyer: Party("key:" + anptest.PubHex(b)), Value: anptest.USD(1250),
		Deadline: a.Terms.AgreedAt + int64(anp.DefaultDeliveryWindow/time.Millisecond)} // the default commitment
	if len(facts) != 1 || facts[0] != want {
		t.Fatalf("facts %+v, want %+v", facts, want)
	}
}

// breachLeaf returns the log leaf of a breach the registry recorded for a.
func breachLeaf(t testing.TB, a *anp.Artifact, at time.Time) []byte {
	t.Helper()
	reg := anptest.SeedKey(10)
	entry, err := anp.NewKeyEntry(anptest.SeedKey(9), nil, reg.Public().(ed25519.PublicKey), at.Add(-time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return breachLeafBy(t, a, reg, entry, at)
}

// breachLeafBy returns the log leaf of a breach of a, countersigned at at
// by reg, the chain key of entry.
func breachLeafBy(t testing.TB, a *anp.Artifact, reg ed25519.PrivateKey, entry anp.KeyEntry, at time.Time) []byte {
	t.Helper()
	deal, err := anp.DealHash(a)
	if err != nil {
		t.Fatal(err)
	}
	ev := anp.DealEvent{Kind: anp.EventBreach, By: anp.ByRegistry, Session: a.Terms.SessionID, Deal: deal, SellerDomain: a.Terms.SellerDomain, Rule: anp.RuleBreach}
	l, err := anp.CountersignDealEvent(ev, reg, entry, at)
	if err != nil {
		t.Fatal(err)
	}
	data, err := l.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFactsFromABreachLeaf(t *testing.T) {
	a, _ := notarisedLeaf(t, anptest.SeedKey(1), anptest.SeedKey(2), 1250, at(3))
	facts, err := FactsFromLeaf(9, breachLeaf(t, a, at(11)))
	want := Breached{Ref{Leaf: 9, Session: a.Terms.SessionID, At: ms(11)}, RoleSeller}
	if err != nil || len(facts) != 1 || facts[0] != want {
		t.Fatalf("facts %+v, %v; want %+v", facts, err, want)
	}
}

func TestFactsFromLeafRefuses(t *testing.T) {
	s, b := anptest.SeedKey(1), anptest.SeedKey(2)
	a, _ := notarisedLeaf(t, s, b, 1250, at(3))
	forged := *a
	forged.Terms.Price = anptest.USD(1)
	forgedLeaf, err := forged.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	unsigned := *a
	unsigned.Registry = nil
	unsignedLeaf, err := anp.Canonical(&unsigned)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		leaf []byte
		want error
	}{
		{"not json", []byte("{"), ErrLeafFormat},
		{"unknown member", []byte(`{"what":1}`), ErrLeafFormat},
		{"price changed after signing", forgedLeaf, ErrLeafSignature},
		{"no countersignature", unsignedLeaf, ErrLeafSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			facts, err := FactsFromLeaf(1, tc.leaf)
			if !errors.Is(err, tc.want) || facts != nil {
				t.Fatalf("FactsFromLeaf = %v, %v; want %v", facts, err, tc.want)
			}
			if !strings.Contains(err.Error(), "leaf 1") {
				t.Fatalf("error %q does not name the leaf", err)
			}
		})
	}
}

// TestFactsFromOwnLeaf: the log's writer reads its own leaves to the same
// facts without checking the signatures it checked before appending them;
// a reader of somebody else's log checks them.
func TestFactsFromOwnLeaf(t *testing.T) {
	a, leaf := notarisedLeaf(t, anptest.SeedKey(1), anptest.SeedKey(2), 1250, at(3))
	own, err1 := FactsFromOwnLeaf(4, leaf)
	read, err2 := FactsFromLeaf(4, leaf)
	if err1 != nil || err2 != nil || len(own) != 1 || len(read) != 1 || own[0] != read[0] {
		t.Fatalf("own %+v (%v), read %+v (%v): want the same one fact", own, err1, read, err2)
	}
	forged := *a
	forged.Terms.Price = anptest.USD(1)
	forgedLeaf, err := forged.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FactsFromLeaf(4, forgedLeaf); !errors.Is(err, ErrLeafSignature) {
		t.Fatalf("a reader's FactsFromLeaf = %v, want ErrLeafSignature", err)
	}
	if facts, err := FactsFromOwnLeaf(4, forgedLeaf); err != nil || len(facts) != 1 {
		t.Fatalf("FactsFromOwnLeaf = %+v, %v: it checks no signature", facts, err)
	}
}

// TestFactsFromArtifact: the facts of an artifact are those its leaf's
// bytes give, with or without a deadline or a buyer identity; one without
// the registry countersignature gives none.
func TestFactsFromArtifact(t *testing.T) {
	a, _ := notarisedLeaf(t, anptest.SeedKey(1), anptest.SeedKey(2), 1250, at(3))
	withID := *a
	withID.Terms.BuyerIdentity = anptest.PubHex(anptest.SeedKey(5))
	for _, art := range []*anp.Artifact{a, &withID} {
		leaf, err := art.LeafData()
		if err != nil {
			t.Fatal(err)
		}
		got, err1 := FactsFromArtifact(9, art)
		want, err2 := FactsFromOwnLeaf(9, leaf)
		if err1 != nil || err2 != nil || len(got) != 1 || len(want) != 1 || got[0] != want[0] {
			t.Fatalf("from the artifact %+v (%v), from its leaf %+v (%v)", got, err1, want, err2)
		}
	}
	bare := *a
	bare.Registry = nil
	if _, err := FactsFromArtifact(9, &bare); !errors.Is(err, ErrLeafSignature) {
		t.Fatalf("an artifact without countersignature: %v, want ErrLeafSignature", err)
	}
}

// FuzzLeafFacts: any bytes decode to facts or a named error, and facts
// decoded apply to a Book without panicking.
func FuzzLeafFacts(f *testing.F) {
	s, b := anptest.SeedKey(1), anptest.SeedKey(2)
	a, leaf := notarisedLeaf(f, s, b, 1250, at(3))
	f.Add(leaf)
	f.Add(breachLeaf(f, a, at(11)))
	f.Add([]byte(`{"key_event":{}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, err := FactsFromLeaf(0, data)
		if err != nil {
			if facts != nil || !(errors.Is(err, ErrLeafFormat) || errors.Is(err, ErrLeafSignature)) {
				t.Fatalf("error %v with facts %v, or not a named error", err, facts)
			}
			return
		}
		book := NewBook()
		for _, fact := range facts {
			if fact.Where().Leaf != 0 {
				t.Fatalf("fact of leaf %d from leaf 0", fact.Where().Leaf)
			}
			_ = book.Apply(fact)
		}
		for _, p := range book.Parties() {
			if sc := book.Score(p, at(4)); sc.Score < 0 || sc.Score > 100 {
				t.Fatalf("score %v out of range", sc.Score)
			}
		}
	})
}

func TestParseParty(t *testing.T) {
	key := anptest.PubHex(anptest.SeedKey(1))
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Kitchen-Outlet.anp", "kitchen-outlet.anp", true},
		{"key:" + key, "key:" + key, true},
		{"id:" + key, "id:" + key, true},
		{"who:" + key, "", false},
		{"key:abc", "", false},
		{"not a domain", "", false},
		{"", "", false},
	} {
		p, err := ParseParty(tc.in)
		if tc.ok != (err == nil) || string(p) != tc.want || (err != nil && !errors.Is(err, ErrPartyName)) {
			t.Errorf("ParseParty(%q) = %q, %v; want %q ok=%v", tc.in, p, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseParty: a name parses to itself (normalised) or a named error,
// and a parsed name parses again to the same party.
func FuzzParseParty(f *testing.F) {
	f.Add("kitchen-outlet.anp")
	f.Add("key:" + anptest.PubHex(anptest.SeedKey(1)))
	f.Add("id:00")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParseParty(in)
		if err != nil {
			if !errors.Is(err, ErrPartyName) || p != "" {
				t.Fatalf("ParseParty(%q) = %q, %v", in, p, err)
			}
			return
		}
		if again, err := ParseParty(string(p)); err != nil || again != p {
			t.Fatalf("ParseParty(%q) = %q, which parses to %q, %v", in, p, again, err)
		}
	})
}
