package buyer_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// tripCounter is an http.RoundTripper that counts the buyer's round trips,
// the relayed ones among them (each relay is forwarded by the registry to
// the seller: a second round trip of about the same size) and their body
// bytes.
type tripCounter struct {
	next                http.RoundTripper
	trips, relays       atomic.Int64
	sentBytes, gotBytes atomic.Int64
}

func (c *tripCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.trips.Add(1)
	if strings.HasPrefix(req.URL.Path, "/v1/relay/") {
		c.relays.Add(1)
	}
	if req.ContentLength > 0 {
		c.sentBytes.Add(req.ContentLength)
	}
	resp, err := c.next.RoundTrip(req)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.gotBytes}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// BenchmarkTransportFloor measures what the transport alone costs a deal:
// it counts the HTTP round trips of one full deal over loopback (the
// buyer's requests plus the registry's forward of each relay to the
// seller) and their average body sizes, then runs that many bare net/http
// round trips of those sizes over loopback — a handler that reads the body
// and answers fixed bytes — and reports their CPU per deal beside the
// required Ed25519 CPU measured in the same run. floor/required-ed25519 is
// the lowest cpu/required-ed25519 a deal can reach while each message is
// its own HTTP request.
func BenchmarkTransportFloor(b *testing.B) {
	trips, reqSize, respSize := dealTrips(b)
	answer := bytes.Repeat([]byte("a"), respSize)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}))
	defer srv.Close()
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	body := bytes.Repeat([]byte("q"), reqSize)
	roundTrip := func() {
		resp, err := hc.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(respSize) || resp.StatusCode != http.StatusOK {
			b.Fatalf("bare round trip: status %d, %d bytes, %v", resp.StatusCode, n, err)
		}
	}
	roundTrip()
	reportFloor(b, trips, reqSize, respSize, roundTrip)
}

// BenchmarkStreamFloor is BenchmarkTransportFloor with each round trip a
// request message and an answer message on one WebSocket connection held
// open (gorilla/websocket, as the registry's push channel): what the
// deal's messages would cost on a transport without a request per
// message, one stream per pair of parties.
func BenchmarkStreamFloor(b *testing.B) {
	trips, reqSize, respSize := dealTrips(b)
	answer := bytes.Repeat([]byte("a"), respSize)
	upgrader := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
			if err := conn.WriteMessage(websocket.TextMessage, answer); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	body := bytes.Repeat([]byte("q"), reqSize)
	roundTrip := func() {
		if err := conn.WriteMessage(websocket.TextMessage, body); err != nil {
			b.Fatal(err)
		}
		_, got, err := conn.ReadMessage()
		if err != nil || len(got) != respSize {
			b.Fatalf("stream round trip: %d bytes, %v", len(got), err)
		}
	}
	roundTrip()
	reportFloor(b, trips, reqSize, respSize, roundTrip)
}

// dealTrips counts the HTTP round trips of one full deal over loopback
// (the buyer's requests plus the registry's forward of each relay to the
// seller) and the average body sizes of the buyer's requests and answers.
func dealTrips(b *testing.B) (trips, reqSize, respSize int) {
	m := startMarket(b, benchSellers())
	counter := &tripCounter{next: http.DefaultTransport.(*http.Transport).Clone()}
	c := newCore(b, m, coreOpts{transport: counter})
	ctx := context.Background()
	fullDeal(ctx, b, c) // warm: token, WebSocket, seller record
	counter.trips.Store(0)
	counter.relays.Store(0)
	counter.sentBytes.Store(0)
	counter.gotBytes.Store(0)
	const deals = 20
	for i := 0; i < deals; i++ {
		fullDeal(ctx, b, c)
	}
	buyerTrips := counter.trips.Load()
	return int((buyerTrips + counter.relays.Load()) / deals), int(counter.sentBytes.Load() / buyerTrips), int(counter.gotBytes.Load() / buyerTrips)
}

// reportFloor runs trips round trips per op and reports their CPU per deal
// beside the required Ed25519 CPU measured in the same run.
func reportFloor(b *testing.B, trips, reqSize, respSize int, roundTrip func()) {
	cpu0 := processCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < trips; j++ {
			roundTrip()
		}
	}
	b.StopTimer()
	perDeal := (processCPU(b) - cpu0) / time.Duration(b.N)
	signCost, verifyCost := ed25519Cost(b)
	required := signCost*requiredSigns + verifyCost*requiredVerifies
	b.ReportMetric(float64(trips), "round-trips/deal")
	b.ReportMetric(float64(reqSize), "req-B/trip")
	b.ReportMetric(float64(respSize), "resp-B/trip")
	b.ReportMetric(float64(perDeal.Microseconds())/float64(trips), "cpu-µs/round-trip")
	b.ReportMetric(float64(perDeal.Microseconds()), "transport-cpu-µs/deal")
	b.ReportMetric(float64(required.Microseconds()), "required-ed25519-µs/deal")
	b.ReportMetric(float64(required+perDeal)/float64(required), "floor/required-ed25519")
}
