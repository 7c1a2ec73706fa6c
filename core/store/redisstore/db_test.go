package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore/redistest"
)

var ctx = context.Background()

// TestKeyLayout checks the documented keys, their types and contents, and
// that nothing else is written under the prefix.
func TestKeyLayout(t *testing.T) {
	db := openFresh(t)
	c := db.Client()
	p := db.Prefix()
	at := time.UnixMicro(1_700_000_000_123_456)
	if _, err := db.Sessions().Save(ctx, store.SessionRecord{ID: "s1", Data: []byte("sealed"), UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	expires := time.UnixMilli(4_102_444_800_000).Add(500 * time.Microsecond) // 2100-01-01, half a millisecond in
	if ok, err := db.Nonces().RecordOnce(ctx, "n1", expires); !ok || err != nil {
		t.Fatalf("RecordOnce: %v %v", ok, err)
	}
	if err := db.Ledger().Put(ctx, "domains", "shop.anp", []byte("binding")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ledger().Append(ctx, []byte("leaf-0")); err != nil {
		t.Fatal(err)
	}

	keys, err := redistest.Keys(ctx, c, p)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{p + "kv:domains", p + "log", p + "nonce:n1", p + "session-index", p + "session:s1"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys = %q, want %q", keys, want)
	}
	h, err := c.HGetAll(ctx, p+"session:s1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if h["version"] != "1" || h["data"] != "sealed" || h["updated"] != "1700000000123456" || len(h) != 3 {
		t.Fatalf("session hash = %q", h)
	}
	if ids, err := c.ZRangeWithScores(ctx, p+"session-index", 0, -1).Result(); err != nil || len(ids) != 1 || ids[0].Member != "s1" || ids[0].Score != 0 {
		t.Fatalf("session index = %v, %v", ids, err)
	}
	// The expiry is absolute and rounded up to the millisecond.
	if ms, err := c.Do(ctx, "PEXPIRETIME", p+"nonce:n1").Int64(); err != nil || ms != 4_102_444_800_001 {
		t.Fatalf("nonce PEXPIRETIME = %d, %v; want 4102444800001", ms, err)
	}
	if v, err := c.HGet(ctx, p+"kv:domains", "shop.anp").Result(); err != nil || v != "binding" {
		t.Fatalf("bucket hash: %q %v", v, err)
	}
	if l, err := c.LRange(ctx, p+"log", 0, -1).Result(); err != nil || !slices.Equal(l, []string{"leaf-0"}) {
		t.Fatalf("log list: %q %v", l, err)
	}

	if err := db.Sessions().Delete(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, p+"session:s1", p+"session-index").Result(); err != nil || n != 0 {
		t.Fatalf("Delete left %d of the session's keys, %v", n, err)
	}
}

func TestPrefixesIsolate(t *testing.T) {
	a, b := openFresh(t), openFresh(t)
	if _, err := a.Sessions().Save(ctx, store.SessionRecord{ID: "s", Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sessions().Save(ctx, store.SessionRecord{ID: "s", Data: []byte("b")}); err != nil {
		t.Fatalf("a session under another prefix conflicted: %v", err)
	}
	if ok, err := a.Nonces().RecordOnce(ctx, "n", time.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := b.Nonces().RecordOnce(ctx, "n", time.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatalf("a nonce under another prefix was a replay: %v %v", ok, err)
	}
	if _, err := a.Ledger().Append(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Ledger().Size(ctx); err != nil || n != 0 {
		t.Fatalf("log under another prefix has size %d, %v", n, err)
	}
	if list, err := b.Sessions().List(ctx); err != nil || len(list) != 1 || string(list[0].Data) != "b" {
		t.Fatalf("List under prefix b = %v, %v", list, err)
	}
}

// TestTwoClientsOneServer runs writers through two separately opened DBs
// with the same prefix, as two pods would.
func TestTwoClientsOneServer(t *testing.T) {
	prefix := redistest.NewPrefix(t)
	a, b := openPrefix(t, prefix), openPrefix(t, prefix)
	if _, err := a.Sessions().Save(ctx, store.SessionRecord{ID: "hot", Data: []byte("v1")}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		idx  = map[uint64]string{}
		wins int
		errs = make(chan error, workers*(each+1))
	)
	for w := range workers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.Sessions().Save(ctx, store.SessionRecord{ID: "hot", Version: 1, Data: fmt.Appendf(nil, "w%d", w)})
			mu.Lock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				errs <- err
			}
			mu.Unlock()
			for i := range each {
				leaf := fmt.Sprintf("w%d-%d", w, i)
				n, err := db.Ledger().Append(ctx, []byte(leaf))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := idx[n]; dup {
					errs <- fmt.Errorf("index %d given to %s and %s", n, prev, leaf)
				}
				idx[n] = leaf
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if wins != 1 {
		t.Fatalf("%d saves over version 1 succeeded across two clients, want 1", wins)
	}
	const total = workers * each
	leaves, err := b.Ledger().Leaves(ctx, 0, total)
	if err != nil {
		t.Fatal(err)
	}
	for i, leaf := range leaves {
		if idx[uint64(i)] != string(leaf) {
			t.Fatalf("leaf %d = %q, Append returned it for %q", i, leaf, idx[uint64(i)])
		}
	}
}

func TestCorruptRecordIsAnError(t *testing.T) {
	db := openFresh(t)
	c, p := db.Client(), db.Prefix()
	for _, fields := range [][]string{
		{"version", "x", "data", "d", "updated", "1"},
		{"version", "0", "data", "d", "updated", "1"},
		{"version", "1", "updated", "1"},
		{"version", "1", "data", "d", "updated", "later"},
	} {
		key := p + "session:bad"
		if err := c.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.HSet(ctx, key, fields).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.ZAdd(ctx, p+"session-index", redisZ("bad")).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Sessions().Load(ctx, "bad"); !errors.Is(err, errCorrupt) {
			t.Errorf("Load of %q = %v, want a corrupt-record error", fields, err)
		}
		if _, err := db.Sessions().List(ctx); !errors.Is(err, errCorrupt) {
			t.Errorf("List with %q = %v, want a corrupt-record error", fields, err)
		}
	}
}

func TestOpenErrorsHidePassword(t *testing.T) {
	const secret = "s3cret-Pw"
	for _, raw := range []string{
		"redis://clinch:" + secret + "@127.0.0.1:1/0?dial_timeout=2s",
		"redis://clinch:" + secret + "@[::1/0",
		"redis://clinch:" + secret + "@127.0.0.1:6379/not-a-db",
		"redis://clinch:" + secret + "@127.0.0.1:6379/0?bogus=1",
		"http://clinch:" + secret + "@127.0.0.1:6379/0",
		"redis://clinch:" + secret + "%zz@127.0.0.1:6379/0",
	} {
		db, err := Open(ctx, raw)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded", strings.ReplaceAll(raw, secret, "xxxxx"))
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("Open error shows the password: %v", err)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw, addr, prefix, user, password string
		db                                int
		tls                               bool
	}{
		{raw: "redis://127.0.0.1:6379/0", addr: "127.0.0.1:6379", prefix: DefaultPrefix},
		{raw: "redis://h:6380/3?prefix=shop:", addr: "h:6380", db: 3, prefix: "shop:"},
		{raw: "redis://h/2?prefix=", addr: "h:6379", db: 2, prefix: ""},
		{raw: "redis://h/0?dial_timeout=2s&prefix=a%26b:", addr: "h:6379", prefix: "a&b:"},
		{raw: "rediss://u:p%2Fw%40rd@h:6390/1", addr: "h:6390", db: 1, prefix: DefaultPrefix, user: "u", password: "p/w@rd", tls: true},
		{raw: "redis://:pw@h/0", addr: "h:6379", prefix: DefaultPrefix, password: "pw"},
	} {
		opts, prefix, err := parseURL(tc.raw)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tc.raw, err)
			continue
		}
		if opts.Addr != tc.addr || opts.DB != tc.db || prefix != tc.prefix || opts.Username != tc.user ||
			opts.Password != tc.password || (opts.TLSConfig != nil) != tc.tls {
			t.Errorf("parseURL(%q) = addr %s db %d prefix %q user %q password %q tls %v", tc.raw,
				opts.Addr, opts.DB, prefix, opts.Username, opts.Password, opts.TLSConfig != nil)
		}
	}
	for _, raw := range []string{
		"redis://u:12/34@h/0", // the password would end up in the path
		"redis://u:p@ss@h/0",
		"http://h/0",
		"redis://h/0?bogus=1",
		"redis://h/x",
		"redis://[::1/0",
	} {
		if _, _, err := parseURL(raw); err == nil {
			t.Errorf("parseURL(%q) succeeded", raw)
		}
	}
}

// TestOpenPrefixParameter checks that Open takes the key prefix from the
// URL and that OpenWithPrefix overrides it.
func TestOpenPrefixParameter(t *testing.T) {
	prefix := redistest.NewPrefix(t)
	db, err := Open(ctx, withQuery(t, redistest.URL(), "prefix", prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Prefix() != prefix {
		t.Fatalf("Prefix() = %q, want %q", db.Prefix(), prefix)
	}
	other, err := OpenWithPrefix(ctx, withQuery(t, redistest.URL(), "prefix", "ignored:"), prefix+"x:")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.Prefix() != prefix+"x:" {
		t.Fatalf("OpenWithPrefix Prefix() = %q", other.Prefix())
	}
	if def, err := Open(ctx, redistest.URL()); err != nil || def.Prefix() != DefaultPrefix {
		t.Fatalf("Open without a prefix parameter: %v, %v", def, err)
	} else {
		def.Close()
	}
}

// withQuery returns raw with a query parameter set.
func withQuery(t *testing.T, raw, key, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// FuzzParseURLHidesPassword builds a redis URL around a password and the
// same URL around a different password of the same shape: the errors must
// be the same, so they cannot depend on (or quote) the password.
func FuzzParseURLHidesPassword(f *testing.F) {
	f.Add("127.0.0.1:6379", "/0", "dial_timeout=1s", "s3cret-Pw")
	f.Add("[::1", "/0", "", "hunter22")
	f.Add("host", "/x", "bogus=1", "pa%zzword")
	f.Add("host:notaport", "", "db=x", "p@ss:word/")
	f.Add("\xc0", "00000", "0", "000000")
	f.Fuzz(func(t *testing.T, host, path, query, password string) {
		build := func(pw string) string {
			raw := "redis://user:" + pw + "@" + host + path
			if query != "" {
				raw += "?" + query
			}
			return raw
		}
		other := rotateAlnum(password)
		if other == password {
			return
		}
		_, _, err1 := parseURL(build(password))
		_, _, err2 := parseURL(build(other))
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("the error depends on the password:\n%v\n%v", err1, err2)
		}
	})
}

// rotateAlnum replaces every letter and digit with the next one of its
// class (hex digits stay hex digits), keeping a URL's structure.
func rotateAlnum(s string) string {
	rot := func(r, lo, hi rune) rune {
		if r == hi {
			return lo
		}
		return r + 1
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return rot(r, '0', '9')
		case r >= 'a' && r <= 'f':
			return rot(r, 'a', 'f')
		case r >= 'g' && r <= 'z':
			return rot(r, 'g', 'z')
		case r >= 'A' && r <= 'F':
			return rot(r, 'A', 'F')
		case r >= 'G' && r <= 'Z':
			return rot(r, 'G', 'Z')
		}
		return r
	}, s)
}

func redisZ(member string) redis.Z { return redis.Z{Score: 0, Member: member} }
