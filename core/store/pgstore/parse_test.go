package pgstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseConfigRefusesMisparsedUserinfo(t *testing.T) {
	for _, tc := range []struct {
		dsn string
		ok  bool
	}{
		{"postgres://clinch:pw@db.example:5432/clinch?sslmode=disable", true},
		{"postgresql://clinch:p%2Fw%3F%23%40@db.example/clinch", true},
		{"postgres://db.example/clinch", true},
		{"postgres://clinch@db.example/clinch", true},
		{"host=db.example user=clinch password=pw dbname=clinch", true},
		{"postgres://clinch:12/34@db.example/clinch", false}, // would connect to host "clinch", database "34@db.example/clinch"
		{"postgres://clinch:ab#cd@db.example/clinch", false},
		{"postgres://clinch:ab?cd@db.example/clinch", false},
		{"postgres://db.example/clinch?user=admin@srv", false}, // '@' in a query value must be encoded
		{"postgres://db.example/clinch?user=admin%40srv", true},
		{"postgres://clinch:p@ss@db.example/clinch", false}, // a raw '@' in the password
	} {
		_, err := parseConfig(tc.dsn)
		if (err == nil) != tc.ok {
			t.Errorf("parseConfig(%q) = %v, want ok=%v", tc.dsn, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "34@") {
			t.Errorf("parseConfig(%q) error quotes the DSN: %v", tc.dsn, err)
		}
	}
}

// FuzzParseConfigHidesPassword parses a DSN built around a password and the
// same DSN around a different password of the same shape: the errors must
// be the same, so they cannot depend on (or quote) the password.
func FuzzParseConfigHidesPassword(f *testing.F) {
	f.Add(true, "127.0.0.1:5432", "/test", "sslmode=disable", "s3cret-Pw")
	f.Add(true, "[::1", "/test", "", "hunter22")
	f.Add(true, "host", "/x", "pool_max_conns=lots", "pa%zzword")
	f.Add(true, "host", "", "sslmode=bogus", "12/34")
	f.Add(false, "127.0.0.1", "test", "connect_timeout=x", "s3cret-Pw")
	f.Add(false, "h", "d", "sslmode=bogus", "'quoted pw'")
	f.Fuzz(func(t *testing.T, urlForm bool, host, db, params, password string) {
		build := func(pw string) string {
			if urlForm {
				dsn := "postgres://user:" + pw + "@" + host + db
				if params != "" {
					dsn += "?" + params
				}
				return dsn
			}
			return "host=" + host + " dbname=" + db + " password=" + pw + " " + params
		}
		other := rotateAlnum(password)
		if other == password {
			return
		}
		_, err1 := parseConfig(build(password))
		_, err2 := parseConfig(build(other))
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("the error depends on the password:\n%v\n%v", err1, err2)
		}
	})
}

// rotateAlnum replaces every letter and digit with the next one of its
// class (hex digits stay hex digits), keeping a DSN's structure: a
// percent-escape (%XX) is structure too, and stays as written, so that
// %00 (which pgconn refuses) is not turned into a valid byte.
func rotateAlnum(s string) string {
	rot := func(r, lo, hi rune) rune {
		if r == hi {
			return lo
		}
		return r + 1
	}
	next := func(r rune) rune {
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
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteString(s[i : i+3])
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteByte(s[i])
		} else {
			b.WriteRune(next(r))
		}
		i += size
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
