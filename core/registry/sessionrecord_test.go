package registry

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// trickyBodies are envelope bodies whose bytes look like the record's own
// structure, or that encode differently with HTML escaping.
var trickyBodies = []string{
	`{"a":1}`,
	`{"x":[1],"head":"h"}`,
	`{"transcript":{"envelopes":null,"head":""}}`,
	`{"note":"<b>&amp;</b> \u2028 é ✓","n":[]}`,
	`{"s":"\"transcript\":{\"envelopes\":null"}`,
}

// randomRecordSession is a session with n random envelopes.
func randomRecordSession(rng *rand.Rand, n int) *witnessSession {
	ws := &witnessSession{ID: fmt.Sprintf("sess-%d", rng.IntN(1000)), Domain: "pans.anp", Buyer: "buyer\"<>", BuyerKey: "bk", SellerKey: "sk",
		Transcript: anp.Transcript{Envelopes: []*anp.Envelope{}}}
	for i := range n {
		ws.Transcript.Envelopes = append(ws.Transcript.Envelopes, &anp.Envelope{V: 1, Type: anp.TypeCounter, Session: ws.ID, Seq: uint64(i + 1),
			From: "f<", To: "t", TS: rng.Int64(), Nonce: fmt.Sprint(rng.Int()), Body: []byte(trickyBodies[rng.IntN(len(trickyBodies))]), Sig: "s"})
	}
	return ws
}

// TestRecordEncodingIsTheFullEncoding: a record written reusing the
// encodings of the envelopes it held when last saved is, byte for byte,
// the encoding of the whole session (encodeSession), whatever the bodies
// hold, over sequences of saves that add envelopes and change the other
// fields.
func TestRecordEncodingIsTheFullEncoding(t *testing.T) {
	for seed := range 200 {
		rng := rand.New(rand.NewPCG(uint64(seed), 3))
		ws := randomRecordSession(rng, rng.IntN(3))
		if seed%10 == 0 {
			ws.Transcript.Envelopes = nil
		}
		for step := range 6 {
			more := randomRecordSession(rng, 1+rng.IntN(2))
			if step > 0 {
				ws.Transcript.Envelopes = append(ws.Transcript.Envelopes, more.Transcript.Envelopes...)
			}
			ws.Transcript.Head, ws.Active, ws.Notarized = fmt.Sprint(step), rng.Int64N(1e12), rng.IntN(2) == 0
			if rng.IntN(4) == 0 {
				ws.Closed = anp.TypeCancel
			}
			got, span, err := encodeRecord(ws)
			if err != nil {
				t.Fatal(err)
			}
			want, err := encodeSession(ws)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("seed %d step %d: record\n%s\nwant\n%s", seed, step, got, want)
			}
			ws.knowEnvelopes(got, span)
		}
	}
}

// TestRecordEncodingRefusesStaleEnvelopes: known encodings are used only
// for as many envelopes as they cover; a session whose known encodings
// cover more envelopes than it holds is encoded whole.
func TestRecordEncodingRefusesStaleEnvelopes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ws := randomRecordSession(rng, 3)
	data, span, err := encodeRecord(ws)
	if err != nil {
		t.Fatal(err)
	}
	ws.knowEnvelopes(data, span)
	ws.Transcript.Envelopes = ws.Transcript.Envelopes[:2]
	got, _, err := encodeRecord(ws)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := encodeSession(ws); !bytes.Equal(got, want) {
		t.Fatalf("record\n%s\nwant\n%s", got, want)
	}
}
