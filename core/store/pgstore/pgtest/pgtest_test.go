package pgtest

import "testing"

func TestWithParam(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://u@h:5432/test?sslmode=disable", "postgres://u@h:5432/test?search_path=s1&sslmode=disable"},
		{"postgresql://h/test", "postgresql://h/test?search_path=s1"},
		{"postgres://h/test?search_path=old", "postgres://h/test?search_path=s1"},
		{"host=h dbname=test ", "host=h dbname=test search_path=s1"},
	} {
		if got := WithParam(tc.dsn, "search_path", "s1"); got != tc.want {
			t.Errorf("WithParam(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://u:secret@h/test", "postgres://u:xxxxx@h/test"},
		{"postgres://u@h/test?password=secret", "postgres://u@h/test?password=xxxxx"},
		{"host=h password=secret dbname=test", "host=h password=xxxxx dbname=test"},
		{"host=h password = 'sec ret' dbname=test", "host=h password=xxxxx dbname=test"},
		{"postgres://u@h/test", "postgres://u@h/test"},
	} {
		if got := Redact(tc.dsn); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}
