package secrets

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestIdentityFileRoundTrip(t *testing.T) {
	key, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "new", "clinch")
	path := filepath.Join(dir, "identity.key")
	if err := WriteIdentityFile(path, key); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(key.Seed()) + "\n"; string(data) != want {
		t.Fatalf("file holds %d bytes that are not the hex seed and a newline", len(data))
	}
	got, err := LoadIdentityFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Equal(got) {
		t.Fatal("loaded key differs from the written key")
	}
	if runtime.GOOS == "windows" {
		return
	}
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700)
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}

func TestWriteIdentityFileRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.key")
	first, _ := GenerateIdentity()
	second, _ := GenerateIdentity()
	if err := WriteIdentityFile(path, first); err != nil {
		t.Fatal(err)
	}
	err := WriteIdentityFile(path, second)
	if err == nil {
		t.Fatal("second write succeeded, want a refusal")
	}
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "refusing to overwrite") || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q does not clearly say the file exists", err)
	}
	got, err := LoadIdentityFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Equal(got) {
		t.Fatal("the refused write changed the file")
	}
}

func TestWriteIdentityFileRejectsBadKeys(t *testing.T) {
	key, _ := GenerateIdentity()
	broken := bytes.Clone(key)
	broken[40] ^= 1 // public half no longer matches the seed
	for name, k := range map[string]ed25519.PrivateKey{"short": key[:32], "inconsistent": broken, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "identity.key")
			if err := WriteIdentityFile(path, k); err == nil {
				t.Fatal("want an error")
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a file was left behind: %v", err)
			}
		})
	}
}

func TestLoadIdentityFileRefusesOpenModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permission bits")
	}
	key, _ := GenerateIdentity()
	for _, tc := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o700, true},
		{0o640, false}, {0o604, false}, {0o660, false}, {0o644, false}, {0o602, false}, {0o620, false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "identity.key")
			if err := WriteIdentityFile(path, key); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			got, err := LoadIdentityFile(path)
			if tc.ok {
				if err != nil || !key.Equal(got) {
					t.Fatalf("mode %04o: got err %v", tc.mode, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("mode %04o accepted", tc.mode)
			}
			msg := err.Error()
			wantMode := "mode 0" + fmtOctal(tc.mode)
			if !strings.Contains(msg, path) || !strings.Contains(msg, wantMode) {
				t.Fatalf("error %q does not name the path and %q", msg, wantMode)
			}
			if strings.Contains(msg, hex.EncodeToString(key.Seed())) {
				t.Fatal("error leaks the key")
			}
		})
	}
}

func fmtOctal(m fs.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestLoadIdentityFileRejectsDirectoryAndMissing(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentityFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory: got %v", err)
	}
	if _, err := LoadIdentityFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: got %v", err)
	}
}

func TestLoadIdentityFileBadContents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.key")
	secret := strings.Repeat("zz", 32)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadIdentityFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want an error naming the file", err)
	}
	if strings.Contains(err.Error(), secret[:8]) {
		t.Fatal("error quotes the file contents")
	}
}

func TestLoadIdentityHex(t *testing.T) {
	key, _ := GenerateIdentity()
	seed := hex.EncodeToString(key.Seed())
	full := hex.EncodeToString(key)
	other, _ := GenerateIdentity()
	mismatched := seed + hex.EncodeToString(other.Public().(ed25519.PublicKey))
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"seed", seed, true},
		{"seed upper case", strings.ToUpper(seed), true},
		{"seed and public key", full, true},
		{"whitespace trimmed", " \t\n" + seed + "\r\n ", true},
		{"empty", "", false},
		{"too short", seed[:62], false},
		{"odd length", seed + "a", false},
		{"between lengths", seed + "00", false},
		{"too long", full + "00", false},
		{"not hex", "g" + seed[1:], false},
		{"not hex at end", seed[:63] + "x", false},
		{"inner space", seed[:30] + " " + seed[31:], false},
		{"public half mismatched", mismatched, false},
		{"prefixed 0x", "0x" + seed[2:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadIdentityHex(tc.in)
			if !tc.ok {
				if err == nil {
					t.Fatal("accepted")
				}
				if len(tc.in) >= 16 && strings.Contains(err.Error(), strings.TrimSpace(tc.in)[2:14]) {
					t.Fatalf("error %q quotes the input", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !key.Equal(got) {
				t.Fatal("parsed key differs")
			}
		})
	}
}

func TestLoadIdentityHexFromEnv(t *testing.T) {
	key, _ := GenerateIdentity()
	t.Setenv(IdentityKeyEnv, hex.EncodeToString(key)+"\n")
	got, err := LoadIdentityHex(os.Getenv(IdentityKeyEnv))
	if err != nil {
		t.Fatal(err)
	}
	if !key.Equal(got) {
		t.Fatal("key from the environment differs")
	}
}

func TestFingerprint(t *testing.T) {
	key, _ := GenerateIdentity()
	pub := key.Public().(ed25519.PublicKey)
	fp := Fingerprint(pub)
	if len(fp) != 12 || fp != hex.EncodeToString(pub)[:12] {
		t.Fatalf("fingerprint %q is not the first 12 hex characters of the key", fp)
	}
	if strings.Contains(hex.EncodeToString(key.Seed()), fp) {
		t.Fatal("fingerprint is part of the seed")
	}
	if got := Fingerprint(pub[:3]); got != hex.EncodeToString(pub[:3]) {
		t.Fatalf("short key: %q", got)
	}
}

func mustIdentity(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	k, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
