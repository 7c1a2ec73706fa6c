package sandbox

import (
	"bytes"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/concession"
)

// downURL is the address of a server that has been shut down.
func downURL(t *testing.T) string {
	srv := httptest.NewServer(nil)
	u := srv.URL
	srv.Close()
	return u
}

func TestCheck(t *testing.T) {
	t.Run("ready", func(t *testing.T) {
		f := newFakeOllama(t, "llama3", DefaultModel)
		d, _ := newTestDecider(t, f, 5*time.Second)
		a, err := d.Check(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		want := Availability{Host: f.srv.URL, Model: DefaultModel, Reachable: true, Version: "0.17.4", ModelPresent: true,
			Installed: []string{"llama3:latest", "qwen2.5:1.5b"}, ContextLength: 32768}
		if !reflect.DeepEqual(a, want) || !a.Ready() {
			t.Fatalf("availability = %+v, want %+v", a, want)
		}
	})
	t.Run("model missing", func(t *testing.T) {
		f := newFakeOllama(t, "llama3")
		d, _ := newTestDecider(t, f, 5*time.Second)
		a, err := d.Check(testCtx(t))
		if err == nil || a.Ready() {
			t.Fatalf("Check = %+v, %v; want not ready", a, err)
		}
		if !a.Reachable || a.ModelPresent || a.Hint != "ollama pull qwen2.5:1.5b" {
			t.Errorf("availability = %+v", a)
		}
		for _, want := range []string{"not installed", "installed: llama3:latest", "run: ollama pull qwen2.5:1.5b"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})
	t.Run("server down", func(t *testing.T) {
		d, err := NewOllamaDecider(OllamaConfig{Host: downURL(t), Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		a, err := d.Check(testCtx(t))
		if err == nil || a.Reachable || !strings.Contains(err.Error(), "does not answer") || !strings.Contains(a.Hint, "ollama serve") {
			t.Fatalf("Check = %+v, %v; want unreachable", a, err)
		}
	})
}

func TestSelect(t *testing.T) {
	ready := newFakeOllama(t, DefaultModel)
	missing := newFakeOllama(t, "llama3")
	down := downURL(t)
	cases := []struct {
		mode, host string
		wantType   string // "" => nil decider
		desc       string // prefix of the description
		err        string
		log        string
	}{
		{"off", "", "", "off", "", "sandbox off"},
		{"strategy", down, "*concession.Adaptive", "strategy:adaptive", "", "deterministic strategy"},
		{"ollama", ready.srv.URL, "*sandbox.OllamaDecider", "ollama:qwen2.5:1.5b", "", "ollama decider selected"},
		{"OLLAMA", ready.srv.URL, "*sandbox.OllamaDecider", "ollama:qwen2.5:1.5b", "", ""},
		{"ollama", missing.srv.URL, "", "", "run: ollama pull qwen2.5:1.5b", ""},
		{"ollama", down, "", "", "does not answer", ""},
		{"auto", ready.srv.URL, "*sandbox.OllamaDecider", "ollama:qwen2.5:1.5b", "", "ollama decider selected"},
		{"auto", missing.srv.URL, "*concession.Adaptive", "strategy:adaptive (ollama unavailable: model qwen2.5:1.5b is not installed", "", "ollama unavailable, using the strategy"},
		{"auto", down, "*concession.Adaptive", "strategy:adaptive (ollama unavailable: ollama at http://127.0.0.1:", "", "ollama serve"},
		{"bogus", "", "", "", `unknown mode "bogus"`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.mode+" "+tc.host, func(t *testing.T) {
			var logs bytes.Buffer
			d, desc, err := Select(testCtx(t), tc.mode, OllamaConfig{Host: tc.host, Timeout: 2 * time.Second}, zerolog.New(&logs))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || d != nil {
					t.Fatalf("Select = %v, %q, %v; want error %q", d, desc, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotType := ""
			if d != nil {
				gotType = reflect.TypeOf(d).String()
			}
			if gotType != tc.wantType || !strings.HasPrefix(desc, tc.desc) {
				t.Errorf("Select = %s %q, want %s %q…", gotType, desc, tc.wantType, tc.desc)
			}
			if tc.log != "" && !strings.Contains(logs.String(), tc.log) {
				t.Errorf("logs lack %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

func TestSelectUsesTheConfiguredFallback(t *testing.T) {
	missing := newFakeOllama(t)
	d, desc, err := Select(testCtx(t), "auto", OllamaConfig{Host: missing.srv.URL, Fallback: concession.New(concession.Conceder, 0.7)}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	st, ok := d.(*concession.Decider)
	if !ok || st.Curve != concession.Conceder || st.OpenFraction != 0.7 || !strings.HasPrefix(desc, "strategy:conceder (ollama unavailable") {
		t.Fatalf("Select = %T %+v %q", d, d, desc)
	}
}

func TestResolveHost(t *testing.T) {
	cases := []struct {
		setting, env, want string
	}{
		{"", "", "http://127.0.0.1:11434"},
		{"", "gpu-box", "http://gpu-box:11434"},
		{"", "0.0.0.0:8080", "http://0.0.0.0:8080"},
		{"localhost", "ignored:1", "http://localhost:11434"},
		{"http://localhost", "", "http://localhost:80"},
		{"https://ollama.internal/base", "", "https://ollama.internal:443/base"},
		{"[::1]:11434", "", "http://[::1]:11434"},
		{"::1", "", "http://[::1]:11434"},
		{"http://10.0.0.5:11500", "", "http://10.0.0.5:11500"},
	}
	for _, tc := range cases {
		t.Setenv("OLLAMA_HOST", tc.env)
		u, err := resolveHost(tc.setting)
		if err != nil || u.String() != tc.want {
			t.Errorf("resolveHost(%q) with OLLAMA_HOST=%q = %v, %v; want %s", tc.setting, tc.env, u, err, tc.want)
		}
	}
	for _, bad := range []string{"ftp://x", "host:0", "host:http", "http://user@host", "http://h:1:2"} {
		if u, err := resolveHost(bad); err == nil {
			t.Errorf("resolveHost(%q) = %v, want an error", bad, u)
		}
	}
}
