package buyer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestLeadingSessionMatchesFullDecode: the session read from the front of a
// record equals the one the whole decode gives, for records as the engine
// writes them and for bytes whose session is not the first member.
func TestLeadingSessionMatchesFullDecode(t *testing.T) {
	price := anp.Money{Amount: 11000, Currency: "USD"}
	full := &record{
		Session: Session{ID: "5644735e52a80dd23060b95b1b879a78", Seller: "chef-supply.anp", State: StateCountered, Turn: 1, Item: "Dutch oven",
			Terms: map[string]string{"color": "red"}, LastSellerPrice: &price, SellerMessage: "We can do \"110\" <USD> & more",
			Deadline: time.Unix(1_800_000_000, 5).UTC(), Rounds: []Round{{Turn: 1, SellerPrice: price}}},
		SellerKey: "85990cce6c9e2b2ef671b1ef4cc00f6a8cdd4396ea3f753126227920b40b2289",
	}
	written, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"as written":          written,
		"session not first":   []byte(`{"seller_key":"k","session":{"id":"a","item":"pan","turn":2},"transcript":{"envelopes":[]}}`),
		"empty session first": []byte(`{"session":{},"transcript":{"envelopes":[]}}`),
	}
	for name, data := range cases {
		var only struct {
			Session Session `json:"session"`
		}
		if err := json.Unmarshal(data, &only); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, ok := leadingSession(data)
		if !ok {
			t.Fatalf("%s: not decoded", name)
		}
		if !reflect.DeepEqual(got, only.Session) {
			t.Errorf("%s:\n got  %+v\n want %+v", name, got, only.Session)
		}
	}
	if _, ok := leadingSession([]byte(`{"session":{"turn":"x"}}`)); ok {
		t.Error("a session that does not decode was read")
	}
}
