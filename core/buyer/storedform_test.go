package buyer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// formOneRecord is a real record of an idle session (PROPOSE and the
// seller's COUNTER) as the engine stored it before form 2.
func formOneRecord(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/record-form1.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readFormOne reads data as the engines that knew only form 1 read it: one
// strict decoding into the record type.
func readFormOne(t testing.TB, data []byte) record {
	t.Helper()
	var r record
	if err := anp.DecodeStrict(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFormOneRecordReadsAsBefore: a form-1 record decodes to the record
// the form-1 reader gives, and its form-2 encoding decodes to it again,
// small enough for a 1,792-byte allocation (an idle session's heap).
func TestFormOneRecordReadsAsBefore(t *testing.T) {
	data := formOneRecord(t)
	want := readFormOne(t, data)
	got, err := decodeStored(data, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("form 1 read as\n %+v\nwant\n %+v", *got, want)
	}
	two, err := encodeRecord(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(two, formPrefix) {
		t.Fatalf("written as %.40s…, not form 2", two)
	}
	t.Logf("form 1: %d bytes, form 2: %d bytes", len(data), len(two))
	if len(two) > 1792 {
		t.Errorf("form 2 of an idle record is %d bytes, more than 1,792", len(two))
	}
	for _, member := range []string{`"propose"`, `"seller_key"`, `"head"`, `"transcript"`, `"address"`, `"version"`, `"awaiting_seller"`} {
		if bytes.Contains(two, []byte(member)) {
			t.Errorf("form 2 repeats %s: %s", member, two)
		}
	}
	again, err := decodeStored(two, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*again, want) {
		t.Fatalf("form 2 read back as\n %+v\nwant\n %+v", *again, want)
	}
}

// TestFormOneRecordIsRewrittenOnSave: an engine reads a session stored in
// form 1 to the same snapshot, and its next save writes form 2.
func TestFormOneRecordIsRewrittenOnSave(t *testing.T) {
	ctx := context.Background()
	data := formOneRecord(t)
	want := readFormOne(t, data)
	sessions := memstore.NewSessions()
	if _, err := sessions.Save(ctx, store.SessionRecord{ID: want.Session.ID, Data: data}); err != nil {
		t.Fatal(err)
	}
	now := want.Session.UpdatedAt.Add(time.Minute)
	c, err := New(Config{Identity: make([]byte, 64), Registry: struct{ Registry }{}, Sessions: sessions, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.GetSession(ctx, want.Session.ID)
	if err != nil {
		t.Fatal(err)
	}
	want.Session.Version = 1
	if !reflect.DeepEqual(s, want.Session) {
		t.Fatalf("snapshot\n %+v\nwant\n %+v", s, want.Session)
	}
	now = want.Session.Deadline // the next read expires the session and saves it
	if s, err = c.GetSession(ctx, want.Session.ID); err != nil || s.State != StateExpired {
		t.Fatalf("after the deadline: %s, %v", s.State, err)
	}
	sr, err := sessions.Load(ctx, want.Session.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(sr.Data, formPrefix) {
		t.Fatalf("rewritten as %.40s…, not form 2", sr.Data)
	}
	got, err := decodeStored(sr.Data, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Transcript, want.Transcript) || got.SellerKey != want.SellerKey || !reflect.DeepEqual(got.Propose, want.Propose) ||
		!bytes.Equal(got.SealedKey, want.SealedKey) || got.Session.Address != want.Session.Address {
		t.Fatalf("form 2 lost part of the record:\n %+v\nwant\n %+v", *got, want)
	}
}

// TestFormOneReaderRefusesFormTwo: the form-1 reader (strict decoding into
// the record type, which has no member "form") refuses every form-2 record,
// naming the member, instead of reading it without its transcript.
func TestFormOneReaderRefusesFormTwo(t *testing.T) {
	r := readFormOne(t, formOneRecord(t))
	two, err := encodeRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	var old record
	err = anp.DecodeStrict(two, &old)
	if err == nil || !strings.Contains(err.Error(), `unknown field "form"`) {
		t.Fatalf("the form-1 reader read form 2: %v", err)
	}
}

// TestFormTwoRoundTrips: a record whose stored members differ from what
// the transcript says (a rotated seller key, a PROPOSE body kept apart, an
// address of its own) and that carries the optional members comes back
// whole; a newer form is refused as such.
func TestFormTwoRoundTrips(t *testing.T) {
	r := readFormOne(t, formOneRecord(t))
	price := anp.Money{Amount: 10500, Currency: "USD"}
	r.SellerKey = strings.Repeat("ab", 32)
	r.Propose.Terms = map[string]string{"color": "red"}
	r.Session.Address = "ANP/B.chef-supply.anp"
	r.Session.AwaitingSeller = true
	r.Session.AgreedPrice = &price
	r.AcceptSeq, r.OutboxFailed, r.CascadeHold = 2, true, true
	r.Outbox = r.Transcript.Envelopes[0]
	r.Pending = &anp.Artifact{Terms: anp.DealTerms{V: 1, SessionID: r.Session.ID, Price: price}, BuyerSig: "00"}
	two, err := encodeRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeStored(two, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, unmemoised(&r)) {
		t.Fatalf("read back as\n %+v\nwant\n %+v", *got, r)
	}

	c, err := New(Config{Identity: make([]byte, 64), Registry: struct{ Registry }{}})
	if err != nil {
		t.Fatal(err)
	}
	three := bytes.Replace(two, []byte(`{"form":2,`), []byte(`{"form":3,`), 1)
	_, err = c.decodeRecord(store.SessionRecord{ID: r.Session.ID, Data: three})
	if !errors.Is(err, ErrRecordForm) || !strings.Contains(err.Error(), "form 3") {
		t.Fatalf("form 3: %v, want ErrRecordForm", err)
	}
}

// FuzzDecodeStoredRecord: any bytes are refused or read to a record that
// its form-2 encoding gives back whenever its form-1 encoding does, up to
// what form 2 derives (the head is the hash of the last envelope, an empty
// address is the session's own).
func FuzzDecodeStoredRecord(f *testing.F) {
	data, err := os.ReadFile("testdata/record-form1.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		f.Fatal(err)
	}
	two, err := encodeRecord(&r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(two)
	f.Add([]byte(`{"form":2,"session":{"id":"a"}}`))
	f.Add([]byte(`{"form":2,"session":{},"envelopes":[{"from":"a"},{"from":"b"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeStored(data, true)
		if err != nil {
			return
		}
		if one, err := json.Marshal(r); err != nil || anp.DecodeStrict(one, &record{}) != nil {
			return // form 1 does not read it back either (a member left out is written as null)
		}
		enc, err := encodeRecord(r)
		if err != nil {
			t.Fatalf("encode %+v: %v", *r, err)
		}
		fresh := unmemoised(r)
		if whole, err := json.Marshal(storedRecordOf(&fresh)); err != nil || !bytes.Equal(enc, whole) {
			t.Fatalf("encoded as\n %s\nwant the whole marshal\n %s (%v)", enc, whole, err)
		}
		back, err := decodeStored(enc, true)
		if err != nil {
			t.Fatalf("form 2 %s does not read back: %v", enc, err)
		}
		if n := len(r.Transcript.Envelopes); n > 0 {
			r.Transcript.Head, _ = r.Transcript.Envelopes[n-1].Hash()
		}
		if r.Session.Address == "" {
			r.Session.Address = sessionAddress(r.Session.Mode, r.Session.Seller)
		}
		r.Session.Version = 0
		if !reflect.DeepEqual(*back, unmemoised(r)) {
			t.Fatalf("read back as\n %+v\nwant\n %+v", *back, *r)
		}
	})
}
