package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// pinsPathFor is the file that keeps the seller keys a buyer pinned at
// registryURL: <dir>/keypins/<first 16 hex of SHA-256(url)>.json.
func pinsPathFor(dir, registryURL string) string {
	sum := sha256.Sum256([]byte(registryURL))
	return filepath.Join(dir, "keypins", hex.EncodeToString(sum[:8])+".json")
}

// keyPins returns the market's seller key pins: a file in the data
// directory for a registry, nil (in memory) for the embedded demo market,
// whose sellers have fresh keys every run.
func (m *market) keyPins() buyer.KeyPins {
	if m.pins == "" {
		return nil
	}
	return buyer.NewFilePins(m.pins)
}

// doctorPins reports the seller keys pinned for registryURL and every key
// change the buyer refused there. It returns false when one was refused.
func doctorPins(env *cliEnv, registryURL string) bool {
	if registryURL == "" {
		return true
	}
	base := strings.TrimRight(registryURL, "/")
	path := pinsPathFor(dataDir(env), base)
	pins, err := buyer.NewFilePins(path).All()
	if err != nil {
		fmt.Fprintf(env.stdout, "seller keys: PROBLEM: %v\n", err)
		return false
	}
	domains := make([]string, 0, len(pins))
	for d := range pins {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	ok := true
	for _, d := range domains {
		if r := pins[d].Refused; r != nil {
			ok = false
			fmt.Fprintf(env.stdout, "seller keys: PROBLEM: a key change of %s was refused at %s: the listing showed key %s…\n  %s\n  sessions with %s are refused until its registry proves the change; the pins are kept in %s\n",
				d, time.UnixMilli(r.At).UTC().Format(time.RFC3339), shortHex(r.Seen), r.Reason, d, path)
		}
	}
	if ok {
		fmt.Fprintf(env.stdout, "seller keys: ok (%d seller key(s) pinned for %s)\n", len(pins), base)
	}
	return ok
}
