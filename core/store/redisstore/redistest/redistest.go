// Package redistest points tests at a real Redis server and gives each
// test a key prefix of its own. The server comes from CLINCH_TEST_REDIS
// (default DefaultURL). A test whose server is unreachable is skipped,
// unless the environment variable CI is "true": there it fails, so that a
// CI run without its server cannot pass silently. Tests never flush the
// database; they delete the keys under their prefix when they end.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the environment variable holding the test server's URL.
const EnvURL = "CLINCH_TEST_REDIS"

// DefaultURL is used when EnvURL is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// pingTimeout bounds the reachability check.
const pingTimeout = 5 * time.Second

// URL returns the test server's URL.
func URL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// Client returns a client of the test server, closed when the test ends;
// an unreachable server skips the test (fails it under CI=true).
func Client(t testing.TB) *redis.Client {
	t.Helper()
	raw := URL()
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("%s: cannot parse %s", EnvURL, redact(raw)) // the error may repeat the password
	}
	opts.MaxRetries = -1 // an unreachable server should skip the test at once
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		msg := fmt.Sprintf("redis not reachable at %s: %v; set %s to a redis:// URL", redact(raw), err, EnvURL)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// NewPrefix returns a random key prefix (clinch_test_<hex>:) and deletes
// every key under it when the test ends; close stores using the prefix in
// a cleanup registered after NewPrefix, so they close first.
func NewPrefix(t testing.TB) string {
	t.Helper()
	client := Client(t)
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	prefix := "clinch_test_" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		if err := DeletePrefix(context.Background(), client, prefix); err != nil {
			t.Errorf("delete keys under %s: %v", prefix, err)
		}
	})
	return prefix
}

// Keys returns every key under prefix, which must contain no glob
// characters.
func Keys(ctx context.Context, client *redis.Client, prefix string) ([]string, error) {
	var keys []string
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// DeletePrefix deletes every key under prefix, which must contain no glob
// characters.
func DeletePrefix(ctx context.Context, client *redis.Client, prefix string) error {
	keys, err := Keys(ctx, client, prefix)
	if err != nil || len(keys) == 0 {
		return err
	}
	return client.Unlink(ctx, keys...).Err()
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}
