package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore/redistest"
)

// redisPod opens a client of its own, named name so that its connections
// can be found in CLIENT LIST, and returns a Redis notifier on channel.
func redisPod(t *testing.T, name, channel string, health time.Duration) (*Redis, *redis.Client) {
	t.Helper()
	opts, err := redis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	opts.ClientName = name
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	n, err := NewRedis(client, Options{
		Channel:        channel,
		Logger:         zerolog.New(zerolog.NewTestWriter(t)),
		MinBackoff:     10 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
		HealthInterval: health,
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, client
}

// killPubSubClients runs CLIENT KILL TYPE pubsub on the pub/sub
// connections of clients named with prefix (narrowed by ID, so that other
// programs sharing the server keep theirs) and returns how many it killed.
func killPubSubClients(t *testing.T, prefix string) int {
	t.Helper()
	ctx := context.Background()
	admin := redistest.Client(t)
	list, err := admin.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for line := range strings.Lines(list) {
		var id, name string
		for field := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(field, "id="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(field, "name="); ok {
				name = v
			}
		}
		if id == "" || !strings.HasPrefix(name, prefix) {
			continue
		}
		n, err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub", "ID", id).Int()
		if err != nil {
			t.Fatalf("CLIENT KILL TYPE pubsub ID %s: %v", id, err)
		}
		killed += n
	}
	return killed
}

func TestRedisTwoSubscribersAndReconnect(t *testing.T) {
	prefix := redistest.NewPrefix(t)
	channel := prefix + "sessions"
	name := "clinch-test-" + randomHex(t)
	podA, _ := redisPod(t, name+"-a", channel, time.Minute)
	podB, _ := redisPod(t, name+"-b", channel, time.Minute)
	a, b := subscribe(t, "pod A", podA), subscribe(t, "pod B", podB)
	a.expect(t, AllSessions)
	b.expect(t, AllSessions)

	publishAll(t, podA, "s1")
	publishAll(t, podB, "s2")
	for _, s := range []*subscription{a, b} {
		s.expect(t, "s1")
		s.expect(t, "s2")
	}

	if n := killPubSubClients(t, name); n != 2 {
		t.Fatalf("killed %d pub/sub connections, want 2", n)
	}
	a.expect(t, AllSessions)
	b.expect(t, AllSessions)
	publishAll(t, podA, "after-reconnect")
	a.expect(t, "after-reconnect")
	b.expect(t, "after-reconnect")
	a.expectNothingQueued(t)
	b.expectNothingQueued(t)
}

func TestRedisChannelsAreSeparate(t *testing.T) {
	prefix := redistest.NewPrefix(t)
	mine, _ := redisPod(t, "clinch-test-mine", prefix+"sessions", time.Minute)
	other, _ := redisPod(t, "clinch-test-other", prefix+"other:sessions", time.Minute)
	s := subscribe(t, "sub", mine)
	s.expect(t, AllSessions)
	publishAll(t, other, "elsewhere")
	publishAll(t, mine, "here")
	s.expect(t, "here")
}

func TestRedisHealthCheckKeepsSubscription(t *testing.T) {
	prefix := redistest.NewPrefix(t)
	// Several quiet intervals pass, each answered by a ping; the interval is
	// generous so that a loaded machine still answers within it.
	n, _ := redisPod(t, "clinch-test-health", prefix+"sessions", 250*time.Millisecond)
	s := subscribe(t, "sub", n)
	s.expect(t, AllSessions)
	time.Sleep(time.Second)
	publishAll(t, n, "s1")
	s.expect(t, "s1") // not AllSessions: no reconnection happened
}

func TestRedisSubscribeEndsWhenClientCloses(t *testing.T) {
	prefix := redistest.NewPrefix(t)
	n, client := redisPod(t, "clinch-test-close", prefix+"sessions", time.Minute)
	got := make(chan string, 8)
	done := make(chan error, 1)
	go func() { done <- n.Subscribe(context.Background(), func(id string) { got <- id }) }()
	if id := <-got; id != AllSessions {
		t.Fatalf("first notification %q", id)
	}
	client.Close()
	select {
	case err := <-done:
		if !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("Subscribe returned %v, want redis.ErrClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Subscribe kept running after the client closed")
	}
}

func TestRedisPublishRejects(t *testing.T) {
	prefix := redistest.NewPrefix(t)
	n, _ := redisPod(t, "clinch-test-rejects", prefix+"sessions", time.Minute)
	testPublishRejects(t, n)
}

// TestSubscribeRetriesUntilCanceled points both notifiers at a port where
// nothing listens: Subscribe keeps retrying and returns once canceled.
func TestSubscribeRetriesUntilCanceled(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer client.Close()
	rn, err := NewRedis(client, Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pn, err := NewPostgres(pool, Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]Notifier{"redis": rn, "postgres": pn} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		calls := 0
		err := n.Subscribe(ctx, func(string) { calls++ })
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || calls != 0 {
			t.Errorf("%s: Subscribe = %v after %d calls, want context.DeadlineExceeded and none", name, err, calls)
		}
	}
}
