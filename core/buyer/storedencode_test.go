package buyer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// unmemoised is r without what encodeRecord memoised on it: the record a
// decode of the same bytes gives.
func unmemoised(r *record) record {
	cp := *r
	cp.encoded, cp.propose = encodedEnvelopes{}, proposeMemo{}
	return cp
}

// wholeMarshal is form 2 of r encoded in one piece, with nothing memoised.
func wholeMarshal(t *testing.T, r *record) []byte {
	t.Helper()
	fresh := unmemoised(r)
	data, err := json.Marshal(storedRecordOf(&fresh))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkEncoding fails unless encodeRecord(r) is the whole marshal of r.
func checkEncoding(t *testing.T, what string, r *record) {
	t.Helper()
	got, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := wholeMarshal(t, r); !bytes.Equal(got, want) {
		t.Fatalf("%s: encoded as\n %s\nwant\n %s", what, got, want)
	}
}

// otherEnvelope is a copy of e with other bytes.
func otherEnvelope(e *anp.Envelope, nonce string) *anp.Envelope {
	cp := *e
	cp.Nonce = nonce
	return &cp
}

// TestEncodeRecordIsTheWholeMarshal: encodeRecord writes the bytes
// json.Marshal writes for the whole form-2 record, with and without the
// optional members, with no envelopes, and with strings encoding/json
// escapes.
func TestEncodeRecordIsTheWholeMarshal(t *testing.T) {
	checkEncoding(t, "rich", richRecord(t))
	r := richRecord(t)
	price := anp.Money{Amount: 10500, Currency: "USD"}
	r.Session.SellerMessage = "<b>&\u2028</b> \"quoted\""
	r.SellerKey = "elsewhere"
	r.Propose.Terms = map[string]string{"color": "red"}
	r.AcceptSeq, r.OutboxFailed, r.CascadeHold = 2, true, true
	r.Outbox = otherEnvelope(r.Transcript.Envelopes[0], "<&>")
	r.Pending = &anp.Artifact{Terms: anp.DealTerms{V: 1, SessionID: r.Session.ID, Price: price}, BuyerSig: "00"}
	r.Session.Artifact = r.Pending
	r.Transcript.Envelopes = append(r.Transcript.Envelopes, otherEnvelope(r.Transcript.Envelopes[1], "<x&y>"))
	checkEncoding(t, "every member", r)
	r.Transcript.Envelopes = nil
	checkEncoding(t, "no envelopes", r)
	r.AcceptSeq, r.OutboxFailed, r.CascadeHold, r.Outbox, r.Pending = 0, false, false, nil, nil
	checkEncoding(t, "no envelopes, no tail", r)
}

// TestEncodeRecordMemoFollowsTheTranscript: the memoised transcript and
// PROPOSE body are used only for the envelopes they were made of: a
// transcript that grows, is cut, has an envelope replaced, or grows
// differently in a copy of the record sharing the memo, and a PROPOSE body
// changed in place, are each encoded as a whole marshal encodes them.
func TestEncodeRecordMemoFollowsTheTranscript(t *testing.T) {
	r := richRecord(t)
	envs := r.Transcript.Envelopes
	checkEncoding(t, "first", r)
	r.Transcript.Envelopes = append(envs[:2:2], otherEnvelope(envs[1], "grown"))
	checkEncoding(t, "grown", r)
	cp := *r // shares the memo
	cp.Transcript.Envelopes = append(r.Transcript.Envelopes[:3:3], otherEnvelope(envs[1], "copy"))
	r.Transcript.Envelopes = append(r.Transcript.Envelopes[:3:3], otherEnvelope(envs[1], "saver"))
	checkEncoding(t, "the copy grown", &cp)
	checkEncoding(t, "the saver grown", r)
	r.Transcript.Envelopes = []*anp.Envelope{envs[0], otherEnvelope(envs[1], "replaced"), r.Transcript.Envelopes[2]}
	checkEncoding(t, "an envelope replaced", r)
	r.Transcript.Envelopes = r.Transcript.Envelopes[:1]
	checkEncoding(t, "cut", r)
	r.Propose.Quantity++
	checkEncoding(t, "PROPOSE body changed", r)
	r.Propose.Quantity--
	checkEncoding(t, "PROPOSE body as sent", r)
	other := otherEnvelope(envs[0], "first replaced")
	other.Body = bytes.Replace(other.Body, []byte(`"quantity":1`), []byte(`"quantity":7`), 1)
	if bytes.Equal(other.Body, envs[0].Body) {
		t.Fatalf("PROPOSE body %s has no quantity 1", other.Body)
	}
	r.Transcript.Envelopes = []*anp.Envelope{other, envs[1]}
	checkEncoding(t, "PROPOSE envelope replaced", r)
}

// dealRecord is richRecord with a transcript of a whole deal's length.
func dealRecord(t testing.TB) *record {
	r := richRecord(t)
	for i := len(r.Transcript.Envelopes); i < 10; i++ {
		r.Transcript.Envelopes = append(r.Transcript.Envelopes, otherEnvelope(r.Transcript.Envelopes[1], fmt.Sprint(i)))
	}
	return r
}

// BenchmarkEncodeRecord: one save's encoding of a record with a deal's
// transcript: as one json.Marshal (whole), with nothing memoised (the
// first save of a move), and with the transcript memoised (the next ones).
func BenchmarkEncodeRecord(b *testing.B) {
	r := dealRecord(b)
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fresh := unmemoised(r)
			if _, err := json.Marshal(storedRecordOf(&fresh)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fresh := unmemoised(r)
			if _, err := encodeRecord(&fresh); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memoised", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeRecord(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
