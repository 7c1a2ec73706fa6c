package notify

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
)

// pgPod opens a pool of its own, as a separate process would, and returns
// a Postgres notifier on channel.
func pgPod(t *testing.T, channel string, health time.Duration) *Postgres {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	n, err := NewPostgres(pool, Options{
		Channel:        channel,
		Logger:         zerolog.New(zerolog.NewTestWriter(t)),
		MinBackoff:     10 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
		HealthInterval: health,
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testChannel returns a channel no other test uses: NOTIFY channels span
// the database.
func testChannel(t *testing.T) string {
	return "clinch_test_" + randomHex(t)
}

// terminateListeners ends the server sessions LISTENing on channel and
// returns how many it ended.
func terminateListeners(t *testing.T, channel string) int {
	t.Helper()
	conn := pgtest.Connect(t)
	var n int
	err := conn.QueryRow(context.Background(), `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = $1 AND pid <> pg_backend_pid()`, `LISTEN "`+channel+`"`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPostgresTwoSubscribersAndReconnect(t *testing.T) {
	pgtest.Connect(t) // skip early if the server is unreachable
	channel := testChannel(t)
	podA, podB := pgPod(t, channel, time.Minute), pgPod(t, channel, time.Minute)
	a, b := subscribe(t, "pod A", podA), subscribe(t, "pod B", podB)
	a.expect(t, AllSessions)
	b.expect(t, AllSessions)

	publishAll(t, podA, "s1")
	publishAll(t, podB, "s2")
	for _, s := range []*subscription{a, b} {
		s.expect(t, "s1")
		s.expect(t, "s2")
	}

	if n := terminateListeners(t, channel); n != 2 {
		t.Fatalf("terminated %d listeners, want 2", n)
	}
	// Both recover on their own and say that they may have missed some.
	a.expect(t, AllSessions)
	b.expect(t, AllSessions)
	publishAll(t, podB, "after-reconnect")
	a.expect(t, "after-reconnect")
	b.expect(t, "after-reconnect")
	a.expectNothingQueued(t)
	b.expectNothingQueued(t)
}

// TestPostgresHealthCheckKeepsSubscription lets several health intervals
// pass in silence: the pings must not disturb the subscription.
func TestPostgresHealthCheckKeepsSubscription(t *testing.T) {
	pgtest.Connect(t)
	n := pgPod(t, testChannel(t), 250*time.Millisecond) // generous: a loaded machine still answers in time
	s := subscribe(t, "sub", n)
	s.expect(t, AllSessions)
	time.Sleep(time.Second)
	publishAll(t, n, "s1")
	s.expect(t, "s1") // not AllSessions: no reconnection happened
}

func TestPostgresPublishRejects(t *testing.T) {
	pgtest.Connect(t)
	testPublishRejects(t, pgPod(t, testChannel(t), time.Minute))
}

func TestNewPostgresRejectsLongChannel(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := NewPostgres(pool, Options{Channel: string(make([]byte, 64))}); err == nil {
		t.Fatal("a 64-byte channel was accepted")
	}
}
