package storeurl

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/notify"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore/redistest"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, kind, location string
	}{
		{"memory:", KindMemory, ""},
		{"MEMORY:", KindMemory, ""},
		{"sqlite:///var/lib/clinch/state.db", KindSQLite, "/var/lib/clinch/state.db"},
		{"sqlite://state/clinch.db", KindSQLite, "state/clinch.db"},
		{"sqlite://clinch.db", KindSQLite, "clinch.db"},
		{"sqlite:///tmp/odd ?#%name.db", KindSQLite, "/tmp/odd ?#%name.db"}, // verbatim: no decoding, no query
		{"SQLite://x.db", KindSQLite, "x.db"},
		{"/var/lib/clinch/state.db", KindSQLite, "/var/lib/clinch/state.db"},
		{"clinch.db", KindSQLite, "clinch.db"},
		{"./memory:", KindSQLite, "./memory:"},
		{"./a://b.db", KindSQLite, "./a://b.db"},
		{`C:\clinch\state.db`, KindSQLite, `C:\clinch\state.db`},
		{"c:/clinch/state.db", KindSQLite, "c:/clinch/state.db"},
		{"postgres://u:pw@db:5432/clinch?sslmode=disable", KindPostgres, "postgres://u:pw@db:5432/clinch?sslmode=disable"},
		{"postgresql://db/clinch", KindPostgres, "postgresql://db/clinch"},
		{"Postgres://db/clinch", KindPostgres, "postgres://db/clinch"},
		{"redis://127.0.0.1:6379/0", KindRedis, "redis://127.0.0.1:6379/0"},
		{"rediss://:pw@cache:6380/1?prefix=shop:", KindRedis, "rediss://:pw@cache:6380/1?prefix=shop:"},
		{"REDIS://h/0", KindRedis, "redis://h/0"},
	} {
		kind, location, err := parse(tc.in)
		if err != nil || kind != tc.kind || location != tc.location {
			t.Errorf("parse(%q) = %q, %q, %v; want %q, %q", tc.in, kind, location, err, tc.kind, tc.location)
		}
	}
}

func TestParseRejects(t *testing.T) {
	const secret = "s3cret-Pw"
	for _, tc := range []struct {
		in, wantInError string
	}{
		{"", "memory:, sqlite:///absolute/path"},
		{"   ", "memory:, sqlite:///absolute/path"},
		{"memory://x", `takes no location; use "memory:"`},
		{"sqlite://", "sqlite:///absolute/path or sqlite://relative/path"},
		{"sqlite:///", "sqlite:///absolute/path or sqlite://relative/path"},
		{"sqlite:clinch.db", "sqlite:///absolute/path or sqlite://relative/path"},
		{"postgres:db", "starts with postgres://"},
		{"redis:h", "starts with redis://"},
		{"mysql://root:" + secret + "@db/clinch", `unsupported store URL scheme "mysql"; use memory:, sqlite:///absolute/path, sqlite://relative/path, a bare file path, postgres://…, postgresql://…, redis://… or rediss://…`},
		{"http://u:" + secret + "@h/", `scheme "http"`},
		{"file:///tmp/x.db", `scheme "file"`},
	} {
		_, _, err := parse(tc.in)
		if err == nil {
			t.Errorf("parse(%q) succeeded", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantInError) {
			t.Errorf("parse(%q) = %v, want it to say %q", tc.in, err, tc.wantInError)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("parse(%q) error shows the password: %v", tc.in, err)
		}
	}
}

func TestOpenErrorsHidePassword(t *testing.T) {
	const secret = "s3cret-Pw"
	for _, raw := range []string{
		"postgres://clinch:" + secret + "@127.0.0.1:1/test?connect_timeout=2",
		"postgres://clinch:" + secret + "/x@127.0.0.1:1/test",
		"postgresql://clinch:" + secret + "@[::1/test",
		"redis://clinch:" + secret + "@127.0.0.1:1/0?dial_timeout=1s",
		"rediss://clinch:" + secret + "#x@127.0.0.1:1/0",
		"redis://clinch:" + secret + "@127.0.0.1:1/not-a-db",
		"ftp://clinch:" + secret + "@127.0.0.1/",
	} {
		b, err := Open(context.Background(), raw)
		if err == nil {
			b.Close()
			t.Fatalf("Open(%s) succeeded", strings.ReplaceAll(raw, secret, "xxxxx"))
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("Open error shows the password: %v", err)
		}
	}
}

// exercise runs each store and the notifier of b once, with keys unique
// to the test, and closes b.
func exercise(t *testing.T, b *Backend, kind string) {
	t.Helper()
	ctx := context.Background()
	if b.Kind != kind {
		t.Fatalf("Kind = %q, want %q", b.Kind, kind)
	}
	id := "storeurl-" + pgtest.RandomHex(t, 6)
	v, err := b.Sessions.Save(ctx, store.SessionRecord{ID: id, Data: []byte("sealed")})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := b.Sessions.Load(ctx, id); err != nil || rec.Version != v || string(rec.Data) != "sealed" {
		t.Fatalf("Load = %+v, %v", rec, err)
	}
	if ok, err := b.Nonces.RecordOnce(ctx, id, time.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatalf("RecordOnce = %v, %v", ok, err)
	}
	if ok, err := b.Nonces.RecordOnce(ctx, id, time.Now().Add(time.Hour)); ok || err != nil {
		t.Fatalf("replayed RecordOnce = %v, %v", ok, err)
	}
	if idx, err := b.Ledger.Append(ctx, []byte(id)); err != nil || idx != 0 {
		t.Fatalf("Append to a fresh log = %d, %v", idx, err)
	}

	// The notifier delivers a publish to a subscriber. Postgres channels
	// span the database, so ignore IDs other programs may publish.
	sctx, cancel := context.WithCancel(ctx)
	got := make(chan string, 64)
	done := make(chan error, 1)
	go func() { done <- b.Notifier.Subscribe(sctx, func(s string) { got <- s }) }()
	wait := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case s := <-got:
				if s == want {
					return
				}
			case err := <-done:
				t.Fatalf("Subscribe returned %v", err)
			case <-deadline:
				t.Fatalf("no notification %q", want)
			}
		}
	}
	wait(notify.AllSessions)
	if err := b.Notifier.Publish(ctx, id); err != nil {
		t.Fatal(err)
	}
	wait(id)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe returned %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenMemory(t *testing.T) {
	b, err := Open(context.Background(), "memory:")
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, b, KindMemory)
}

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct{ url, file string }{
		{filepath.Join(dir, "bare.db"), filepath.Join(dir, "bare.db")},
		{"sqlite://" + filepath.ToSlash(filepath.Join(dir, "abs.db")), filepath.Join(dir, "abs.db")},
		{"sqlite://rel/state.db", filepath.Join(dir, "rel", "state.db")},
		{"relative.db", filepath.Join(dir, "relative.db")},
	} {
		b, err := Open(context.Background(), tc.url)
		if err != nil {
			t.Fatalf("Open(%s): %v", tc.url, err)
		}
		exercise(t, b, KindSQLite)
		if _, err := os.Stat(tc.file); err != nil {
			t.Fatalf("Open(%s) did not create %s: %v", tc.url, tc.file, err)
		}
	}
}

func TestOpenPostgres(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t)
	b, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, b, KindPostgres)
}

func TestOpenRedis(t *testing.T) {
	prefix := redistest.NewPrefix(t)
	u, err := url.Parse(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("prefix", prefix)
	u.RawQuery = q.Encode()
	b, err := Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, b, KindRedis)
	// Every key went under the URL's prefix.
	keys, err := redistest.Keys(context.Background(), redistest.Client(t), prefix)
	if err != nil || len(keys) < 3 {
		t.Fatalf("keys under %s: %q, %v", prefix, keys, err)
	}
}

// FuzzParse checks that parse never panics, that paths come back
// verbatim, and that errors do not depend on (or quote) a password:
// the same input with a different password of the same shape must give
// the same error.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"memory:", "sqlite:///a.db", "sqlite://a.db", "a.db", `C:\a.db`, "postgres://u:pw@h/db",
		"redis://h/0", "mysql://u:pw@h/db", "", "sqlite:", "x:y",
	} {
		f.Add(seed, "s3cret-Pw")
	}
	f.Fuzz(func(t *testing.T, raw, password string) {
		kind, location, err := parse(raw)
		if err == nil {
			switch kind {
			case KindMemory:
			case KindSQLite:
				if location == "" || !strings.HasSuffix(raw, location) {
					t.Fatalf("parse(%q) gave path %q", raw, location)
				}
			case KindPostgres, KindRedis:
				if !strings.EqualFold(location, raw) {
					t.Fatalf("parse(%q) gave URL %q", raw, location)
				}
			default:
				t.Fatalf("parse(%q) gave kind %q", raw, kind)
			}
		}
		if other := rotateAlnum(password); other != password && strings.Contains(raw, "://") {
			scheme, rest, _ := strings.Cut(raw, "://")
			with := func(pw string) string { return scheme + "://u:" + pw + "@" + rest }
			_, _, err1 := parse(with(password))
			_, _, err2 := parse(with(other))
			if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
				t.Fatalf("the error depends on the password:\n%v\n%v", err1, err2)
			}
		}
	})
}

// rotateAlnum replaces every letter and digit with the next one of its
// class, keeping a URL's structure.
func rotateAlnum(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '9':
			return '0'
		case r == 'z':
			return 'a'
		case r == 'Z':
			return 'A'
		case r >= '0' && r < '9', r >= 'a' && r < 'z', r >= 'A' && r < 'Z':
			return r + 1
		}
		return r
	}, s)
}
