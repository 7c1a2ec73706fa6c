package cluster_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
)

// failoverBuyers is the size of the burst of notarisations.
const failoverBuyers = 24

var (
	leaseAcquiredRe = regexp.MustCompile(`log writer lease acquired`)
	forwardingRe    = regexp.MustCompile(`another registry process writes the log`)
)

// TestLogWriterFailover: three registry processes share one PostgreSQL
// ledger with a 1 s log writer lease. Registry 1 holds the lease; a seller
// and failoverBuyers buyers deal through registry 2, which forwards every
// append. The buyers negotiate to CONFIRMED, then sign together: a burst of
// notarisations. When some of them are in the log the test takes registry
// 1's signed tree head and kills it (SIGKILL). Another registry takes the
// lease, the burst completes, every artifact verifies, the log holds
// exactly one leaf per deal (0 lost, 0 duplicate), and the consistency
// proof from the head before the kill to the first head after verifies.
// It prints the takeover time (measured, not asserted).
func TestLogWriterFailover(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t)
	dir := t.TempDir()
	regs := make([]*proc, 3)
	urls := make([]string, 3)
	var rootKey string
	for i := range regs {
		addr := freeAddr(t)
		urls[i] = "http://" + addr
		regs[i] = start(t, fmt.Sprintf("registry %d", i+1), nil, "registry", "--addr", addr, "--db", dsn,
			"--key-file", filepath.Join(dir, "registry.key"), "--arbiter-key-file", filepath.Join(dir, "arbiter.key"),
			"--difficulty", "8", "--open-enrollment", "--allow-private-endpoints", "--log-level", "info", "--log-lease-ttl", "1s")
		rootKey = regs[i].waitFor(rootKeyRe) // the first creates the key files the others read
		waitTCP(t, addr)
	}
	regs[0].waitFor(leaseAcquiredRe)
	regs[1].waitFor(forwardingRe)
	regs[2].waitFor(forwardingRe)
	m := &market{registryURL: urls[1], rootKey: rootKey, dir: dir}
	m.startSeller(t, sellerSpec{domain: "kitchen-outlet.anp"})

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	cores := confirmedBuyers(ctx, t, urls[1], rootKey)

	// The burst, and the kill in its middle.
	before := countLeaves(t, conn)
	artifacts, errs := make([]*anp.Artifact, len(cores)), make([]error, len(cores))
	var wg sync.WaitGroup
	for i, c := range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			artifacts[i], errs[i] = c.core.ApproveAndSign(ctx, c.session)
		}()
	}
	waitLeaves(t, conn, before+failoverBuyers/4)
	client := registry.NewClient(urls[0], newIdentity(t), registry.ClientOptions{RootKey: rootKey})
	headBefore, err := client.LogHead(ctx)
	if err != nil {
		t.Fatalf("registry 1 head before the kill: %v", err)
	}
	tokenBefore := leaseToken(t, conn)
	regs[0].kill()
	killed := time.Now()
	takeover := waitTakeover(t, conn, tokenBefore)
	tookOver := time.Since(killed)
	survivor := registry.NewClient(urls[1], newIdentity(t), registry.ClientOptions{RootKey: rootKey})
	headAfter, err := survivor.LogHead(ctx)
	if err != nil {
		t.Fatalf("head after the takeover: %v", err)
	}
	wg.Wait()
	firstAppend := time.Since(killed)

	for i, err := range errs {
		if err != nil {
			t.Errorf("buyer %d: %v", i, err)
		}
	}
	verified := verifyLoadArtifacts(t, artifacts, rootKey)
	deals, dup := dealLeaves(t, conn)
	if verified != failoverBuyers || deals != failoverBuyers || dup != 0 {
		t.Fatalf("%d artifacts verified, %d deal leaves in the log, %d sessions logged twice; want %d, %d, 0", verified, deals, dup, failoverBuyers, failoverBuyers)
	}
	verifyConsistent(ctx, t, survivor, headBefore, headAfter)
	final, err := survivor.LogHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	verifyConsistent(ctx, t, survivor, headBefore, final)
	t.Logf("log writer failover: registry 1 killed at log size %d during a burst of %d notarisations; %s took the lease (token %d -> %d) after %s (lease ttl 1s); the burst finished %s after the kill; heads %d -> %d (first after) -> %d consistent; %d deal leaves, 0 lost, 0 duplicate",
		headBefore.Size, failoverBuyers, takeover.addr, tokenBefore, takeover.token, tookOver.Round(time.Millisecond), firstAppend.Round(time.Millisecond),
		headBefore.Size, headAfter.Size, final.Size, deals)
}

// confirmedBuyer is a buyer whose session with the seller is CONFIRMED.
type confirmedBuyer struct {
	core    *buyer.Core
	session string
}

// confirmedBuyers logs failoverBuyers buyers in at registryURL and
// negotiates each to CONFIRMED with the seller.
func confirmedBuyers(ctx context.Context, t *testing.T, registryURL, rootKey string) []confirmedBuyer {
	t.Helper()
	hc := &http.Client{Timeout: time.Minute}
	out := make([]confirmedBuyer, failoverBuyers)
	budget, err := anp.FromMajor(100, "USD")
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		_, id, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		client := registry.NewClient(registryURL, id, registry.ClientOptions{HTTP: hc, RootKey: rootKey, Logger: zerolog.Nop()})
		core, err := buyer.New(buyer.Config{Identity: id, Registry: client, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { core.Close() })
		s, err := core.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", buyer.Constraints{Item: "Blender", MaxBudget: budget}, buyer.ProposeOptions{})
		if err != nil {
			t.Fatalf("buyer %d propose: %v", i, err)
		}
		if s, err = core.Negotiate(ctx, s.ID, concession.Default()); err != nil || s.State != buyer.StateConfirmed {
			t.Fatalf("buyer %d negotiate: %v %s", i, err, s.State)
		}
		out[i] = confirmedBuyer{core: core, session: s.ID}
	}
	return out
}

func leaseToken(t *testing.T, conn *pgx.Conn) uint64 {
	t.Helper()
	var token int64
	if err := conn.QueryRow(context.Background(), `SELECT token FROM log_lease`).Scan(&token); err != nil {
		t.Fatal(err)
	}
	return uint64(token)
}

type leaseHolder struct {
	addr  string
	token uint64
}

// waitTakeover waits until a live lease has a token above token.
func waitTakeover(t *testing.T, conn *pgx.Conn, token uint64) leaseHolder {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var h leaseHolder
		var tok int64
		var live bool
		if err := conn.QueryRow(context.Background(), `SELECT addr, token, expires > now() FROM log_lease`).Scan(&h.addr, &tok, &live); err != nil {
			t.Fatal(err)
		}
		if h.token = uint64(tok); live && h.token > token {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("no registry took the log writer lease over (token %d)", token)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dealLeaves counts the artifact leaves in the log and the sessions that
// have more than one.
func dealLeaves(t *testing.T, conn *pgx.Conn) (deals, duplicates int) {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT leaf FROM leaves ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var leaf []byte
	_, err = pgx.ForEachRow(rows, []any{&leaf}, func() error {
		l, err := anp.ParseLogLeaf(leaf)
		if err != nil {
			return err
		}
		if l.Artifact != nil {
			deals++
			if seen[l.Artifact.Terms.SessionID]++; seen[l.Artifact.Terms.SessionID] == 2 {
				duplicates++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return deals, duplicates
}

// verifyConsistent checks the consistency proof from older to newer.
func verifyConsistent(ctx context.Context, t *testing.T, c *registry.Client, older, newer *anp.SignedTreeHead) {
	t.Helper()
	path, err := c.Consistency(ctx, older.Size, newer.Size)
	if err != nil {
		t.Fatalf("consistency %d -> %d: %v", older.Size, newer.Size, err)
	}
	if err := anp.VerifyConsistency(older, newer, path); err != nil {
		t.Fatalf("consistency %d -> %d does not verify: %v", older.Size, newer.Size, err)
	}
}
