package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// fakeOllama is an HTTP server speaking Ollama's API (/api/version,
// /api/tags, /api/show, /api/chat) with scripted chat answers. It records
// every chat request, both decoded and raw.
type fakeOllama struct {
	t      testing.TB
	srv    *httptest.Server
	models []string // installed models

	mu    sync.Mutex
	chats []recordedChat
	// answer scripts the n-th chat (0-based); nil answers with a fixed exit.
	answer func(n int, req api.ChatRequest, w http.ResponseWriter, r *http.Request)
}

type recordedChat struct {
	req api.ChatRequest
	raw map[string]any
}

func newFakeOllama(t testing.TB, models ...string) *fakeOllama {
	t.Helper()
	f := &fakeOllama{t: t, models: models}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": "0.17.4"})
	})
	mux.HandleFunc("GET /api/tags", func(w http.ResponseWriter, r *http.Request) {
		var lr api.ListResponse
		for _, m := range f.models {
			lr.Models = append(lr.Models, api.ListModelResponse{Name: m, Model: m, ModifiedAt: time.Unix(1_700_000_000, 0)})
		}
		writeJSON(w, http.StatusOK, lr)
	})
	mux.HandleFunc("POST /api/show", func(w http.ResponseWriter, r *http.Request) {
		var req api.ShowRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if !slices.Contains(f.models, req.Model) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "model '" + req.Model + "' not found"})
			return
		}
		writeJSON(w, http.StatusOK, api.ShowResponse{Details: api.ModelDetails{Family: "qwen2", ParameterSize: "1.5B", QuantizationLevel: "Q4_K_M"},
			ModelInfo: map[string]any{"general.architecture": "qwen2", "qwen2.context_length": 32768}})
	})
	mux.HandleFunc("POST /api/chat", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("fake ollama: read chat body: %v", err)
			return
		}
		var rc recordedChat
		if err := json.Unmarshal(body, &rc.req); err != nil {
			t.Errorf("fake ollama: decode chat request: %v", err)
		}
		if err := json.Unmarshal(body, &rc.raw); err != nil {
			t.Errorf("fake ollama: decode raw chat request: %v", err)
		}
		f.mu.Lock()
		n := len(f.chats)
		f.chats = append(f.chats, rc)
		answer := f.answer
		f.mu.Unlock()
		if answer == nil {
			replyContent(w, `{"action":"exit","price":0,"message":"No thanks."}`)
			return
		}
		answer(n, rc.req, w, r)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// script sets the chat answers: the n-th chat gets answers[min(n, len-1)].
func (f *fakeOllama) script(answers ...func(w http.ResponseWriter, r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = func(n int, _ api.ChatRequest, w http.ResponseWriter, r *http.Request) {
		answers[min(n, len(answers)-1)](w, r)
	}
}

func (f *fakeOllama) recorded() []recordedChat {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.chats)
}

// content answers with a complete non-streamed chat reply carrying text.
func content(text string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { replyContent(w, text) }
}

func replyContent(w http.ResponseWriter, text string) {
	writeJSON(w, http.StatusOK, api.ChatResponse{Model: DefaultModel, CreatedAt: time.Unix(1_700_000_000, 0),
		Message: api.Message{Role: "assistant", Content: text}, Done: true, DoneReason: "stop"})
}

// status answers with an HTTP status and a raw body (possibly empty).
func status(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// stall answers only when the client gives up.
func stall() func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}
