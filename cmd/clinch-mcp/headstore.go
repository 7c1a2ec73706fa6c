package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clinch-protocol/clinch-mcp/core/registry"
)

// fileHeadStore is a registry.HeadStore in one JSON file: the log
// watcher's remembered tree head and fork alarm for one registry.
type fileHeadStore struct{ path string }

// headStoreFor returns the file store for registryURL in the data
// directory: <dir>/loghead/<first 16 hex of SHA-256(url)>.json.
func headStoreFor(dir, registryURL string) *fileHeadStore {
	sum := sha256.Sum256([]byte(registryURL))
	return &fileHeadStore{path: filepath.Join(dir, "loghead", hex.EncodeToString(sum[:8])+".json")}
}

// Load reads the state; a missing file is the zero state.
func (f *fileHeadStore) Load() (registry.WatchState, error) {
	var st registry.WatchState
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read log head file: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return registry.WatchState{}, fmt.Errorf("log head file %s: %w", f.path, err)
	}
	return st, nil
}

// Save writes the state atomically (a temporary file renamed over it).
func (f *fileHeadStore) Save(st registry.WatchState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode log head: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("log head directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".loghead-*")
	if err != nil {
		return fmt.Errorf("log head file: %w", err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write log head file: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write log head file: %w", err)
	}
	return nil
}
