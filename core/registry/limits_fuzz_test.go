package registry

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// FuzzChallengeID: only an id the registry issued to the key opens, and it
// opens to exactly the challenge issued; anything else is the one
// unauthorized answer.
func FuzzChallengeID(f *testing.F) {
	m, err := newChallengeMinter(anptest.NewKey(f))
	if err != nil {
		f.Fatal(err)
	}
	pub := anptest.PubHex(anptest.NewKey(f))
	issued := m.issue(pub, 18, time.UnixMilli(1735689720000))
	for _, s := range []string{issued.ID, strings.ToUpper(issued.ID), issued.ID[:len(issued.ID)-2], issued.ID + "00", "", strings.Repeat("0", 84), "01" + strings.Repeat("f", 82)} {
		f.Add(s, pub)
	}
	f.Add(issued.ID, anptest.PubHex(anptest.NewKey(f)))
	f.Fuzz(func(t *testing.T, id, key string) {
		ch, err := m.open(id, key)
		if err != nil {
			if err != errForeignChallenge {
				t.Fatalf("refusal %v is not the one foreign-challenge answer", err)
			}
			return
		}
		if id != issued.ID || key != pub || ch != issued {
			t.Fatalf("opened %+v for id %q key %q; only %+v was issued", ch, id, key, issued)
		}
	})
}

// FuzzForwardedClient: whatever X-Forwarded-For says, the client address is
// the trusted peer or an address the header names, never a trusted proxy
// when an untrusted entry was read.
func FuzzForwardedClient(f *testing.F) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	peer := netip.MustParseAddr("10.0.0.1")
	for _, s := range []string{"203.0.113.9", "1.1.1.1, 203.0.113.9", "203.0.113.9, 10.2.2.2", "garbage", "", ",,,", "::ffff:1.2.3.4", "fe80::1%eth0, 10.0.0.3", "2001:db8::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := forwardedClient(peer, []string{header}, trusted)
		if !got.IsValid() {
			t.Fatalf("forwardedClient(%q) = invalid address", header)
		}
		if !strings.Contains(header, ",") {
			want := peer // a malformed entry: the peer itself
			if a, err := netip.ParseAddr(strings.TrimSpace(header)); err == nil {
				want = a.Unmap().WithZone("")
			}
			if got != want {
				t.Fatalf("forwardedClient(%q) = %s, want %s", header, got, want)
			}
		}
		if got.Zone() != "" {
			t.Fatalf("forwardedClient(%q) = %s keeps a zone", header, got)
		}
	})
}
