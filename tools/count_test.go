package tools

import (
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		noun string
		want string
	}{
		{0, "session", "0 sessions"},
		{1, "session", "1 session"},
		{2, "seller", "2 sellers"},
		{1, "entry", "1 entry"},
		{16, "entry", "16 entries"},
	} {
		if got := count(tc.n, tc.noun); got != tc.want {
			t.Errorf("count(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}

func TestClipAndEcho(t *testing.T) {
	long := "é" + string(make([]byte, 100))
	if got := clip("short", 10); got != "short" {
		t.Errorf("clip short: %q", got)
	}
	if got := clip(long, 2); got != "é… (102 bytes in all)" {
		t.Errorf("clip on a rune boundary: %q", got)
	}
	if got := clip(long, 1); got != "… (102 bytes in all)" {
		t.Errorf("clip inside a rune: %q", got)
	}
	if got := echo("abc"); got != `"abc"` {
		t.Errorf("echo short: %s", got)
	}
	if got := echo(strings.Repeat("x", 1<<20)); len(got) > maxEcho+40 {
		t.Errorf("echo of 1 MiB is %d bytes", len(got))
	}
}
