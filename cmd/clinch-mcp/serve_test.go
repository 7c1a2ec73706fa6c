package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestServeHTTPFlags: the origin list comes from the environment unless
// flags are given (then only from the flags), entries may be repeated or
// comma-separated, and bad origins or body caps stop serve with exit code 2.
func TestServeHTTPFlags(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		args    []string
		origins string
		maxBody int64
		bad     string // part of the error, "" when valid
	}{
		{nil, nil, "[]", 4 << 20, ""},
		{map[string]string{"CLINCH_ALLOWED_ORIGINS": "https://a.example, https://b.example"}, nil, "[https://a.example https://b.example]", 4 << 20, ""},
		{map[string]string{"CLINCH_ALLOWED_ORIGINS": "https://a.example"}, []string{"--allowed-origin", "https://c.example,https://d.example", "--allowed-origin", "http://localhost:6274"},
			"[https://c.example https://d.example http://localhost:6274]", 4 << 20, ""},
		{map[string]string{"CLINCH_MAX_BODY_BYTES": "1024"}, nil, "[]", 1024, ""},
		{nil, []string{"--max-body-bytes", "65536"}, "[]", 65536, ""},
		{nil, []string{"--allowed-origin", "https://a.example/path"}, "", 0, "--allowed-origin"},
		{nil, []string{"--allowed-origin", "*"}, "", 0, "--allowed-origin"},
		{nil, []string{"--max-body-bytes", "0"}, "", 0, "--max-body-bytes"},
		{map[string]string{"CLINCH_MAX_BODY_BYTES": "4MiB"}, nil, "", 0, "--max-body-bytes"},
	} {
		env, _, _ := testEnv(t, tc.env)
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		var h httpFlags
		h.register(fs, env)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := h.validate()
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%v %v: err = %v, want one naming %s", tc.env, tc.args, err, tc.bad)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v %v: %v", tc.env, tc.args, err)
		}
		o := h.options(zerolog.Nop(), nil)
		if got := fmt.Sprint(o.AllowedOrigins); got != tc.origins || o.MaxBodyBytes != tc.maxBody {
			t.Errorf("%v %v: origins %s, max body %d; want %s, %d", tc.env, tc.args, got, o.MaxBodyBytes, tc.origins, tc.maxBody)
		}
	}
	// Through the command: a bad origin is a usage error before anything starts.
	env, _, _ := testEnv(t, nil)
	var ee *exitError
	err := run(context.Background(), env, []string{"serve", "--transport", "http", "--allowed-origin", "null"})
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "allowed origin") {
		t.Fatalf("serve with a bad origin: %v", err)
	}
}
