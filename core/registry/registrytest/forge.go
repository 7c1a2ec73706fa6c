package registrytest

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// ForgeDealEvent countersigns ev at at with the newest chain key kept in
// ledger — what a dishonest registry operator holds — and returns its log
// leaf, whatever the deal's lifecycle rules say of it. A Twin whose log
// holds it shows a client a log with the forged event. It reads the key
// chain as the registry stores it: bucket "keys", "entry/" + index (the
// entry as JSON) and "seed/" + public key hex (the seed, hex).
func ForgeDealEvent(t testing.TB, ledger store.Ledger, ev anp.DealEvent, at time.Time) []byte {
	t.Helper()
	kvs, err := ledger.List(context.Background(), "keys")
	if err != nil {
		t.Fatalf("forge: read the key chain: %v", err)
	}
	var entry anp.KeyEntry
	seeds := map[string]string{}
	for _, kv := range kvs { // ordered by key: the last entry is the newest
		switch {
		case strings.HasPrefix(kv.Key, "entry/"):
			if err := json.Unmarshal(kv.Value, &entry); err != nil {
				t.Fatalf("forge: key entry %s: %v", kv.Key, err)
			}
		case strings.HasPrefix(kv.Key, "seed/"):
			seeds[strings.TrimPrefix(kv.Key, "seed/")] = string(kv.Value)
		}
	}
	seed, err := hex.DecodeString(seeds[entry.Key])
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("forge: no seed of chain key %d", entry.Index)
	}
	leaf, err := anp.CountersignDealEvent(ev, ed25519.NewKeyFromSeed(seed), entry, at)
	if err != nil {
		t.Fatalf("forge: countersign: %v", err)
	}
	data, err := leaf.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	return data
}
