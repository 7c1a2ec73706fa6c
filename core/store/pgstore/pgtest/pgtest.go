// Package pgtest points tests at a real PostgreSQL server and gives each
// test a schema of its own. The server comes from CLINCH_TEST_POSTGRES
// (default DefaultDSN). A test whose server is unreachable is skipped,
// unless the environment variable CI is "true": there it fails, so that a
// CI run without its database cannot pass silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable holding the test server's DSN.
const EnvDSN = "CLINCH_TEST_POSTGRES"

// DefaultDSN is used when EnvDSN is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// connectTimeout bounds the reachability check.
const connectTimeout = 5 * time.Second

// DSN returns the test server's DSN.
func DSN() string {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// Connect opens a connection to the test server, closed when the test
// ends; an unreachable server skips the test (fails it under CI=true).
func Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	dsn := DSN()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		msg := fmt.Sprintf("postgres not reachable at %s: %v; set %s to a DSN", Redact(dsn), err, EnvDSN)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// NewSchema creates a schema with a random name (clinch_test_<hex>) and
// returns it with a DSN whose search_path selects it. The schema and
// everything in it are dropped when the test ends; close pools opened on
// the DSN in a cleanup registered after NewSchema, so they close first.
func NewSchema(t testing.TB) (dsn, schema string) {
	t.Helper()
	conn := Connect(t)
	schema = "clinch_test_" + RandomHex(t, 8)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithParam(DSN(), "search_path", schema), schema
}

// WithParam returns dsn with a connection parameter set, in URL or
// keyword/value form as dsn is. value must need no quoting.
func WithParam(dsn, key, value string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " " + key + "=" + value
}

// passwordParam matches a password in a keyword/value DSN.
var passwordParam = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// Redact hides the password of a DSN in URL or keyword/value form.
func Redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return passwordParam.ReplaceAllString(dsn, "password=xxxxx")
}

// RandomHex returns n random bytes in hex.
func RandomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
