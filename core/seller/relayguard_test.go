package seller_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

// directForms are the ways a stranger tries to reach a seller without the
// registry: no signature, a made-up one, one signed by his own key under
// the registry's key index, and a real registry signature captured on the
// path, which covers another envelope.
var directForms = []string{"no ANP-Relay header", "random signature", "signed by a stranger as kid 0", "captured registry signature of another envelope"}

// strangerPropose is a PROPOSE of a fresh key, posted directly to the
// seller in form i of directForms; it reports the answer's status and code.
func strangerPropose(t *testing.T, hc *http.Client, s *sellerNode, captured string, now time.Time, form int) (int, anp.Code) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	env, err := anp.Seal(key, anp.EnvelopeSpec{Type: anp.TypePropose, Session: anp.NewSessionID(), Seq: 1, To: s.Domain(), Body: proposeAt(5000), Now: now})
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	body, _ := json.Marshal(env)
	var header string
	switch form {
	case 1:
		sig := make([]byte, 64)
		_, _ = rand.Read(sig)
		header = anp.RelayAuth{KeyIndex: 0, TS: now.UnixMilli(), Sig: hex.EncodeToString(sig)}.String()
	case 2:
		header, _ = anp.SignRelay(key, 0, anp.RelayTarget{Domain: s.Domain(), Route: anp.SellerHandshake, Body: body}, now)
	case 3:
		header = captured
	}
	return post(t, hc, s.url, anp.SellerHandshake, body, header)
}

// TestDirectProposeFloodCreatesNothing: thousands of PROPOSEs posted to a
// seller directly, each with a fresh key, are refused with 401 before the
// seller decodes them and open no session; a captured relayed request
// replayed whole opens nothing either; a deal relayed by the registry
// completes during and after the flood.
func TestDirectProposeFloodCreatesNothing(t *testing.T) {
	rn := newRelayNet(t)
	s := rn.startSeller("kitchen-outlet.anp", anptest.NewKey(t), nil)
	buyer := rn.client(anptest.NewKey(t))

	// One relayed PROPOSE first: a real registry signature to capture from the path.
	first := rn.dealer(buyer, s)
	first.must(anp.TypePropose, proposeAt(5000))
	captured := s.tap.last()
	if captured.header == "" || captured.status != http.StatusOK {
		t.Fatalf("the registry relayed without a signature (%q) or the seller refused it: %d %s", captured.header, captured.status, captured.answer)
	}

	const flood, workers = 2000, 8
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var mu sync.Mutex
	answers := map[string]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				status, code := strangerPropose(t, hc, s, captured.header, rn.clock.Now(), i%len(directForms))
				mu.Lock()
				answers[http.StatusText(status)+" "+string(code)]++
				mu.Unlock()
			}
		})
	}
	// Halfway through the flood, a buyer deals through the registry.
	var during anp.Money
	for i := range flood {
		if i == flood/2 {
			during = rn.dealer(buyer, s).completeDeal(proposeAt(10000), rn.root)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	st := s.Stats()
	if answers["Unauthorized unauthorized"] != flood || len(answers) != 1 {
		t.Fatalf("answers to %d direct PROPOSEs: %v, want all 401 unauthorized", flood, answers)
	}
	if st.Sessions != 2 || st.RelayRefused != flood || st.UsedSessionIDs != 2 {
		t.Fatalf("after the flood: %+v, want the 2 relayed sessions only and %d refusals", st, flood)
	}

	// The captured request replayed whole: the seller's earlier answer, nothing new.
	if status, code := post(t, hc, s.url, anp.SellerHandshake, captured.body, captured.header); status != http.StatusOK || code != "" {
		t.Fatalf("replayed relayed PROPOSE: %d %s, want 200 with the earlier reply", status, code)
	}
	if envs, _ := s.Transcript(first.Session); len(envs) != 2 || s.Stats().Sessions != 2 {
		t.Fatalf("the replay changed the table: %d envelopes, %+v", len(envs), s.Stats())
	}
	// ... and after the flood, a deal relayed by the registry completes.
	after := rn.dealer(buyer, s).completeDeal(proposeAt(10000), rn.root)
	if during != anptest.USD(10000) || after != anptest.USD(10000) || s.Stats().Sessions != 3 {
		t.Fatalf("relayed deals at %s and %s, %+v", during, after, s.Stats())
	}
	t.Logf("%d direct PROPOSEs with fresh keys (%d of each of: %s): %v; sessions created by them: %d; relayed deals during and after: %s, %s",
		flood, flood/len(directForms), strings.Join(directForms, "; "), answers, st.Sessions-2, during, after)
}

// TestRelayedFreshFloodLetsABuyerIn: PROPOSE-only sessions relayed by the
// registry past a lowered cap evict the oldest of them, never a buyer who
// got further; they are dropped ProposeTTL later; a table full of sessions
// that got further refuses the next PROPOSE, naming the limit.
func TestRelayedFreshFloodLetsABuyerIn(t *testing.T) {
	rn := newRelayNet(t)
	const maxFresh, maxSessions = 5, 8
	s := rn.startSeller("kitchen-outlet.anp", anptest.NewKey(t), func(c *seller.Config) {
		c.MaxFreshSessions, c.MaxSessions = maxFresh, maxSessions
	})
	var flood []*dealer
	for range 3 {
		c := rn.client(anptest.NewKey(t))
		for range 5 {
			d := rn.dealer(c, s)
			d.must(anp.TypePropose, proposeAt(5000))
			flood = append(flood, d)
		}
	}
	if st := s.Stats(); st.FreshSessions != maxFresh || st.Sessions != maxFresh || st.Evicted != 10 {
		t.Fatalf("after 15 PROPOSE-only sessions: %+v, want %d fresh and 10 evicted", st, maxFresh)
	}
	if _, err := flood[0].relay(flood[0].Seal(anp.TypeCounter, anp.OfferBody{Price: anptest.USD(6000), Turn: 2})); anp.CodeOf(err) != anp.CodeNotFound {
		t.Fatalf("COUNTER in an evicted session: %v, want not_found", err)
	}
	// A real buyer gets in and completes its deal.
	if price := rn.dealer(rn.client(anptest.NewKey(t)), s).completeDeal(proposeAt(10000), rn.root); price != anptest.USD(10000) {
		t.Fatalf("deal at %s", price)
	}
	// ProposeTTL later, the flood's sessions are dropped at the next PROPOSE.
	rn.clock.Advance(seller.DefaultProposeTTL + time.Second)
	late := flood[len(flood)-1]
	if _, err := late.relay(late.Seal(anp.TypeCounter, anp.OfferBody{Price: anptest.USD(6000), Turn: 2})); anp.CodeOf(err) != anp.CodeExpired {
		t.Fatalf("COUNTER %s after its PROPOSE: %v, want expired", seller.DefaultProposeTTL, err)
	}
	rn.dealer(rn.client(anptest.NewKey(t)), s).completeDeal(proposeAt(10000), rn.root)
	if st := s.Stats(); st.FreshSessions != 0 || st.Sessions != 2 {
		t.Fatalf("after ProposeTTL: %+v, want the 2 signed deals only", st)
	}
	// Sessions that got past their PROPOSE fill the table: the next PROPOSE is refused, by name.
	c := rn.client(anptest.NewKey(t))
	for s.Stats().Sessions < maxSessions {
		d := rn.dealer(c, s)
		d.must(anp.TypePropose, proposeAt(5000))
		d.must(anp.TypeCounter, anp.OfferBody{Price: anptest.USD(6000), Turn: 2})
	}
	d := rn.dealer(c, s)
	if _, err := d.relay(d.Seal(anp.TypePropose, proposeAt(5000))); anp.CodeOf(err) != anp.CodeRefused {
		t.Fatalf("PROPOSE to a full table: %v, want refused", err)
	}
	if ex := s.tap.last(); ex.status != http.StatusUnprocessableEntity || !strings.Contains(string(ex.answer), "session table is full: 8 sessions in progress") {
		t.Fatalf("the seller's refusal: %d %s", ex.status, ex.answer)
	}
	t.Logf("15 relayed PROPOSE-only sessions with a cap of %d: %d evicted, the real buyer's deal completed; a table of %d sessions past PROPOSE refuses: %s",
		maxFresh, 10, maxSessions, s.tap.last().answer)
}

// paddedQuery seals d's next QUERY, whose 1,000-character message is then
// written with a \u escape for every character: six times the bytes and
// the same signature (the body is signed in canonical form). The registry
// witnesses and forwards the body in canonical form.
func paddedQuery(d *dealer) (*anp.Envelope, int) {
	msg := strings.Repeat("A", anp.MaxMessageLen)
	env := d.Seal(anp.TypeQuery, anp.NoteBody{Message: msg})
	env.Body = json.RawMessage(`{"message":"` + strings.Repeat(`\u0041`, anp.MaxMessageLen) + `"}`)
	data, _ := json.Marshal(env)
	return env, len(data)
}

// TestPaddedQueriesThroughTheRegistry: padded QUERYs relayed by the
// registry reach the seller and are kept in canonical form, and once the session holds its bytes
// (a lowered limit here; TestFiveHundredPaddedQueries runs the default) the
// seller refuses the next, naming the limit, and the registry passes the
// refusal on as too_large. Other sessions are served.
func TestPaddedQueriesThroughTheRegistry(t *testing.T) {
	rn := newRelayNet(t)
	const limit = 32 << 10
	s := rn.startSeller("kitchen-outlet.anp", anptest.NewKey(t), func(c *seller.Config) { c.MaxSessionBytes = limit })
	d := rn.dealer(rn.client(anptest.NewKey(t)), s)
	d.must(anp.TypePropose, proposeAt(5000))
	var answered, wire int
	var err error
	for answered = 0; answered < 100; answered++ {
		var env *anp.Envelope
		env, wire = paddedQuery(d)
		if _, err = d.relay(env); err != nil {
			break
		}
	}
	refusal := s.tap.last()
	held, _ := s.SessionBytes(d.Session)
	if anp.CodeOf(err) != anp.CodeTooLarge || answered == 0 || held > limit || s.Stats().RetainedBytes > limit {
		t.Fatalf("after %d answered QUERYs: %v; the session holds %d bytes, the node %d (limit %d)", answered, err, held, s.Stats().RetainedBytes, limit)
	}
	if want := "the limit is 32768 bytes per session"; refusal.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(refusal.answer), want) {
		t.Fatalf("the seller's refusal: %d %s, want 413 naming %q", refusal.status, refusal.answer, want)
	}
	envs, _ := s.Transcript(d.Session)
	if _, err := anp.VerifyChain(envs); err != nil || len(envs) != 2+2*answered {
		t.Fatalf("transcript of %d envelopes: %v", len(envs), err)
	}
	if q := envs[2]; len(q.Body) != len(`{"message":""}`)+anp.MaxMessageLen || strings.Contains(string(refusal.body), `\u0041`) {
		t.Fatalf("kept a %d-byte QUERY body; the relayed request of %d bytes must carry it in canonical form", len(q.Body), len(refusal.body))
	}
	if price := rn.dealer(rn.client(anptest.NewKey(t)), s).completeDeal(proposeAt(10000), rn.root); price != anptest.USD(10000) {
		t.Fatalf("a deal in another session: %s", price)
	}
	t.Logf("relayed QUERYs of %d bytes (a %d-byte message): %d answered, then too_large: %s; the session holds %d of %d bytes; a kept QUERY body is %d bytes",
		wire, anp.MaxMessageLen, answered, refusal.answer, held, limit, len(envs[2].Body))
}

// memberPolicy prices members (buyers with the credential) at member and
// everyone else at guest.
type memberPolicy struct {
	secret        string
	member, guest *seller.CurvePolicy
}

func (p memberPolicy) pick(s seller.SessionView) *seller.CurvePolicy {
	if s.Credential == p.secret {
		return p.member
	}
	return p.guest
}

func (p memberPolicy) Open(ctx context.Context, s seller.SessionView, b anp.ProposeBody) (seller.Decision, error) {
	return p.pick(s).Open(ctx, s, b)
}

func (p memberPolicy) Respond(ctx context.Context, s seller.SessionView, o anp.Money) (seller.Decision, error) {
	return p.pick(s).Respond(ctx, s, o)
}

// TestCopiedCredentialThroughTheRegistry: a member deals at the member
// price; the seller restarts; a stranger copies the member's sealed
// credential from the transcript into PROPOSEs of his own, relayed by the
// registry: under a new session id the seller refuses it, under the
// member's session id the registry does. The member still gets the member
// price after the restart.
func TestCopiedCredentialThroughTheRegistry(t *testing.T) {
	rn := newRelayNet(t)
	const secret = "MEMBER-4471-GOLD"
	state, key := t.TempDir(), anptest.NewKey(t)
	policy := memberPolicy{secret: secret,
		member: &seller.CurvePolicy{List: anptest.USD(8000), Floor: anptest.USD(7000)},
		guest:  &seller.CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(9000)}}
	withState := func(c *seller.Config) { c.StateDir, c.Policy = state, policy }
	s := rn.startSeller("kitchen-outlet.anp", key, withState)
	memberClient := rn.client(anptest.NewKey(t))
	memberDeal := func(s *sellerNode) (anp.Money, *dealer) {
		d := rn.dealer(memberClient, s)
		p := proposeAt(8000)
		sealed, err := anp.SealCredential(s.EncryptionKey(), anp.CredentialScope{Session: d.Session, BuyerKey: d.Pub, Domain: s.Domain()}, secret)
		if err != nil {
			t.Fatal(err)
		}
		p.Credential = sealed
		return d.completeDeal(p, rn.root), d
	}
	price, victim := memberDeal(s)
	if price != anptest.USD(8000) {
		t.Fatalf("the member's deal at %s, want the member price", price)
	}
	copied := anptest.Body[anp.ProposeBody](t, victim.Tr.Envelopes[0]).Credential

	// The seller restarts (same key and state directory, a new endpoint).
	_ = s.Close()
	rn.clock.Advance(time.Second)
	s = rn.startSeller("kitchen-outlet.anp", key, withState)

	stranger := rn.client(anptest.NewKey(t))
	try := func(session string) error {
		d := rn.dealer(stranger, s)
		if session != "" {
			d.Session = session
		}
		p := proposeAt(8000)
		p.Credential = copied
		_, err := d.relay(d.Seal(anp.TypePropose, p))
		return err
	}
	if err := try(""); anp.CodeOf(err) != anp.CodeRefused {
		t.Fatalf("the copy in a new session: %v, want refused", err)
	}
	refusal := s.tap.last().answer
	if !strings.Contains(string(refusal), "sealed for another session") {
		t.Fatalf("the seller's refusal: %s", refusal)
	}
	if err := try(victim.Session); anp.CodeOf(err) != anp.CodeNotFound {
		t.Fatalf("the copy under the member's session id: %v, want the registry's not_found (another buyer's session)", err)
	}
	if st := s.Stats(); st.Sessions != 0 || st.UsedSessionIDs != 1 {
		t.Fatalf("the copies opened sessions: %+v", st)
	}
	if price, _ := memberDeal(s); price != anptest.USD(8000) {
		t.Fatalf("the member after the restart: %s", price)
	}
	guest := rn.dealer(stranger, s)
	if got := guest.must(anp.TypePropose, proposeAt(8000)); got.Type != anp.TypeCounter || anptest.Body[anp.OfferBody](t, got).Price != anptest.USD(10000) {
		t.Fatalf("a guest: %s %+v, want a COUNTER at the guest price", got.Type, anptest.Body[anp.OfferBody](t, got))
	}
	t.Logf("member price %s before and after the restart; the copied credential under a new session: refused by the seller (%s); under the member's session: conflict at the registry",
		price, refusal)
}

// TestRelayAfterRegistryKeyRotation: when the registry's chain key rotates,
// its relay signatures name the new key index and the node fetches the
// registry's chain again (verified under the pinned root) to take them.
func TestRelayAfterRegistryKeyRotation(t *testing.T) {
	rn := newRelayNet(t)
	s := rn.startSeller("kitchen-outlet.anp", anptest.NewKey(t), nil)
	buyer := rn.client(anptest.NewKey(t))
	rn.dealer(buyer, s).completeDeal(proposeAt(10000), rn.root)
	first := s.tap.last().header
	rn.clock.Advance(registry.DefaultKeyLifetime + time.Minute)
	if price := rn.dealer(buyer, s).completeDeal(proposeAt(10000), rn.root); price != anptest.USD(10000) {
		t.Fatalf("deal after the rotation at %s", price)
	}
	a0, _ := anp.ParseRelayAuth(first)
	a1, err := anp.ParseRelayAuth(s.tap.last().header)
	if err != nil || a1.KeyIndex <= a0.KeyIndex {
		t.Fatalf("relay signed by key %d before and %d after the rotation (%v)", a0.KeyIndex, a1.KeyIndex, err)
	}
}
