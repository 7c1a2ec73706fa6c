package secrets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
)

// maxSecretFileBytes caps how much of a secret file is read.
const maxSecretFileBytes = 1 << 20

// readPrivateFile reads a file that holds secrets. It refuses anything that
// is not a regular file, files whose permissions let group or others read or
// write them (mode & 0077 != 0), and files above maxSecretFileBytes. what
// names the file's role in error messages ("identity file").
func readPrivateFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: open %s: %w", what, err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the checked file is the one read.
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets: stat %s %s: %w", what, path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets: %s %s is not a regular file", what, path)
	}
	if err := checkPrivateMode(path, what, info.Mode()); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("secrets: read %s %s: %w", what, path, err)
	}
	if len(data) > maxSecretFileBytes {
		return nil, fmt.Errorf("secrets: %s %s is larger than %d bytes", what, path, maxSecretFileBytes)
	}
	return data, nil
}

// checkPrivateMode rejects permission bits for group or others. Windows has
// no such bits in os.FileMode, so the check does not apply there.
func checkPrivateMode(path, what string, mode fs.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := mode.Perm(); perm&0o077 != 0 {
		return fmt.Errorf("secrets: %s %s has mode %04o: it must not be accessible by group or others (run: chmod 600 %s)", what, path, perm, path)
	}
	return nil
}

// errExists reports whether err means the file was already there.
func errExists(err error) bool { return errors.Is(err, fs.ErrExist) }
