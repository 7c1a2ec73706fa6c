package anp_test

import (
	"testing"
	"unsafe"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// The session id a fast decode yields is a string of its own: a party that
// keeps it as a map key after the envelope is gone must not keep the text
// of the envelope's other members with it. The other members may share.
func TestEnvelopeFastDecodeSessionOwnsItsText(t *testing.T) {
	for _, data := range []string{
		`{"v":1,"type":"PROPOSE","session":"0123456789abcdef0123456789abcdef","seq":1,"prev":"","from":"aa","to":"shop.anp","ts":1,"exp":2,"nonce":"bb","body":{},"sig":"cc"}`,
		`{"sig":"cc","session":"0123456789abcdef0123456789abcdef","from":"aa","nonce":"bb","type":"PROPOSE","to":"shop.anp"}`,
		`{"type":"P\u0052OPOSE","session":"01234567\u00389abcdef0123456789abcdef","from":"a\u0061","to":"shop.anp"}`,
	} {
		var e anp.Envelope
		if !anp.DecodeEnvelopeFast([]byte(data), &e) {
			t.Fatalf("fast path declined %s", data)
		}
		if e.Session != "0123456789abcdef0123456789abcdef" || e.From != "aa" {
			t.Fatalf("decoded session %q from %q", e.Session, e.From)
		}
		// The members around the session id in the input share one string;
		// were the id part of it, its text would lie between theirs.
		lo, hi := ^uintptr(0), uintptr(0)
		for _, other := range []string{string(e.Type), e.Prev, e.From, e.To, e.Nonce, e.Sig} {
			if other == "" {
				continue // an empty string points at no text
			}
			p := uintptr(unsafe.Pointer(unsafe.StringData(other)))
			lo, hi = min(lo, p), max(hi, p+uintptr(len(other)))
		}
		if p := uintptr(unsafe.Pointer(unsafe.StringData(e.Session))); p >= lo && p < hi {
			t.Errorf("%s: the session id's text lies inside the other members' string", data)
		}
	}
}
