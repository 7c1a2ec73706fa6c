package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/ollama/ollama/api"
)

// Availability is what Check found out about the Ollama server.
type Availability struct {
	Host          string   // base URL asked
	Model         string   // model wanted
	Reachable     bool     // the server answered
	Version       string   // the server's version
	ModelPresent  bool     // the model is installed
	Installed     []string // installed models, tags made explicit ("name:latest")
	ContextLength int      // the model's trained context length, when the server reports it
	Hint          string   // what to do when not ready, e.g. "ollama pull qwen2.5:1.5b"
}

// Ready reports whether the decider can be used.
func (a Availability) Ready() bool { return a.Reachable && a.ModelPresent }

// Check asks the server whether it answers (version), which models it has
// (list) and whether the configured model is one of them (show). It returns
// an error, with a.Hint saying what to do, unless the decider is ready.
func (d *OllamaDecider) Check(ctx context.Context) (Availability, error) {
	a := Availability{Host: d.base.String(), Model: d.cfg.Model}
	call := func(f func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		defer cancel()
		return f(cctx)
	}
	err := call(func(c context.Context) (err error) {
		a.Version, err = d.client.Version(c)
		return err
	})
	if err != nil {
		a.Hint = fmt.Sprintf("start Ollama (ollama serve) or point OLLAMA_HOST at it; nothing answered at %s", a.Host)
		return a, fmt.Errorf("sandbox: ollama at %s does not answer: %w", a.Host, err)
	}
	a.Reachable = true
	var list *api.ListResponse
	if err := call(func(c context.Context) (err error) { list, err = d.client.List(c); return err }); err != nil {
		return a, fmt.Errorf("sandbox: ollama at %s: list models: %w", a.Host, err)
	}
	for _, m := range list.Models {
		a.Installed = append(a.Installed, normalizeModel(m.Name))
	}
	sort.Strings(a.Installed)
	var show *api.ShowResponse
	err = call(func(c context.Context) (err error) {
		show, err = d.client.Show(c, &api.ShowRequest{Model: d.cfg.Model})
		return err
	})
	var se api.StatusError
	switch {
	case errors.As(err, &se) && se.StatusCode == http.StatusNotFound:
		a.Hint = "ollama pull " + d.cfg.Model
		installed := "none"
		if len(a.Installed) > 0 {
			installed = strings.Join(a.Installed, ", ")
		}
		return a, fmt.Errorf("sandbox: model %s is not installed on %s (installed: %s); run: %s", d.cfg.Model, a.Host, installed, a.Hint)
	case err != nil:
		return a, fmt.Errorf("sandbox: ollama at %s: show %s: %w", a.Host, d.cfg.Model, err)
	}
	a.ModelPresent = true
	a.ContextLength = contextLength(show.ModelInfo)
	if a.ContextLength > 0 && d.cfg.NumCtx > a.ContextLength {
		d.log.Warn().Int("num_ctx", d.cfg.NumCtx).Int("context_length", a.ContextLength).Msg("num_ctx is above the model's context length")
	}
	return a, nil
}

// normalizeModel makes the tag explicit: "qwen2.5" is "qwen2.5:latest".
func normalizeModel(name string) string {
	last := name[strings.LastIndex(name, "/")+1:]
	if !strings.Contains(last, ":") {
		return name + ":latest"
	}
	return name
}

// contextLength reads "<architecture>.context_length" from a show response.
func contextLength(info map[string]any) int {
	for k, v := range info {
		if strings.HasSuffix(k, ".context_length") {
			if f, ok := v.(float64); ok && f > 0 && f < 1<<31 {
				return int(f)
			}
		}
	}
	return 0
}
