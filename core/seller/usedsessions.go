package seller

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// usedSessionsFile is the file in Config.StateDir that remembers the
// session ids of the PROPOSEs the node took.
const usedSessionsFile = "used-sessions.log"

// maxUsedSessionsFile bounds the file read at start: far more than the
// entries of twelve minutes at any rate the node accepts.
const maxUsedSessionsFile = 256 << 20

// usedSessions remembers the session id of every PROPOSE the node took
// until that envelope could no longer be accepted (its exp plus the clock
// skew allowance), so that a PROPOSE copied whole — sealed credential and
// signature included — is refused after its session was evicted, and, with
// a state directory, after a restart. Entries are kept in memory and, when
// a directory is configured, appended to a file that is compacted at start
// and whenever it holds mostly expired lines.
type usedSessions struct {
	mu      sync.Mutex
	until   map[string]int64 // session id -> unix ms after which it may be forgotten
	order   []usedEntry      // in the order remembered, for pruning
	max     int
	path    string   // "" keeps entries in memory only
	file    *os.File // append-only, nil in memory
	written int      // lines in the file
}

type usedEntry struct {
	id    string
	until int64
}

// openUsedSessions loads the entries of dir (none when dir is "") that are
// still live at now, rewrites the file with only those, and keeps it open
// for appending. max bounds the live entries.
func openUsedSessions(dir string, now time.Time, max int) (*usedSessions, error) {
	u := &usedSessions{until: make(map[string]int64), max: max}
	if dir == "" {
		return u, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("seller: state directory: %w", err)
	}
	u.path = filepath.Join(dir, usedSessionsFile)
	if err := u.load(now.UnixMilli()); err != nil {
		return nil, err
	}
	if err := u.rewrite(); err != nil {
		return nil, err
	}
	return u, nil
}

// load reads the file, if any, keeping the entries live at nowMs. A last
// line cut short by a crash is ignored; any other malformed line is an error
// naming the file and line.
func (u *usedSessions) load(nowMs int64) error {
	f, err := os.Open(u.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("seller: used session ids: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUsedSessionsFile+1))
	if err != nil {
		return fmt.Errorf("seller: used session ids %s: %w", u.path, err)
	}
	if len(data) > maxUsedSessionsFile {
		return fmt.Errorf("seller: used session ids %s is larger than %d bytes", u.path, maxUsedSessionsFile)
	}
	return u.parse(data, nowMs)
}

// parse keeps the entries of a state file's contents that are live at
// nowMs. A last line without its newline is the torn write of a crash and
// is ignored; any other malformed line is an error naming its number.
func (u *usedSessions) parse(data []byte, nowMs int64) error {
	text := string(data)
	text = text[:strings.LastIndexByte(text, '\n')+1]
	if text == "" {
		return nil
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		id, until, err := parseUsedLine(line)
		if err != nil {
			return fmt.Errorf("seller: used session ids %s line %d: %w", u.path, i+1, err)
		}
		if until > nowMs {
			u.add(id, until)
		}
	}
	return nil
}

// live returns the state file's contents for the live entries, in the order
// they were remembered. The caller holds mu or owns u alone.
func (u *usedSessions) live() []byte {
	var b strings.Builder
	for _, e := range u.order {
		if u.until[e.id] == e.until {
			fmt.Fprintf(&b, "%s %d\n", e.id, e.until)
		}
	}
	return []byte(b.String())
}

// parseUsedLine parses "<session id> <until ms>".
func parseUsedLine(s string) (string, int64, error) {
	id, ms, ok := strings.Cut(s, " ")
	if !ok || !anp.ValidSessionID(id) {
		return "", 0, errors.New(`want "<32 hex session id> <unix ms>"`)
	}
	until, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || until <= 0 {
		return "", 0, errors.New("the expiry is not unix milliseconds")
	}
	return id, until, nil
}

// rewrite replaces the file with the live entries and opens it for
// appending. The caller holds mu or owns u alone.
func (u *usedSessions) rewrite() error {
	if u.file != nil {
		_ = u.file.Close()
		u.file = nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(u.path), usedSessionsFile+".*")
	if err != nil {
		return fmt.Errorf("seller: used session ids: %w", err)
	}
	_, err = tmp.Write(u.live())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), u.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("seller: used session ids %s: %w", u.path, err)
	}
	f, err := os.OpenFile(u.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("seller: used session ids: %w", err)
	}
	u.file, u.written = f, len(u.until)
	return nil
}

// add keeps id in memory. The caller holds mu or owns u alone.
func (u *usedSessions) add(id string, until int64) {
	u.until[id] = until
	u.order = append(u.order, usedEntry{id, until})
}

// pruneLocked forgets the entries at the front that expired at nowMs, and
// compacts the file when most of its lines are expired.
func (u *usedSessions) pruneLocked(nowMs int64) error {
	i := 0
	for ; i < len(u.order) && u.order[i].until <= nowMs; i++ {
		if u.until[u.order[i].id] == u.order[i].until {
			delete(u.until, u.order[i].id)
		}
	}
	if i > 0 {
		u.order = append(u.order[:0:0], u.order[i:]...)
	}
	if u.file != nil && u.written > 2*len(u.until)+1024 {
		return u.rewrite()
	}
	return nil
}

// seen reports whether id is remembered at now.
func (u *usedSessions) seen(id string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	until, ok := u.until[id]
	return ok && until > now.UnixMilli()
}

// remember keeps id until until, in the file first when there is one. It
// refuses when max live entries are kept: the node is opening more sessions
// than it can remember.
func (u *usedSessions) remember(id string, until, now time.Time) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.pruneLocked(now.UnixMilli()); err != nil {
		return err
	}
	if len(u.until) >= u.max {
		return anp.Errorf(anp.CodeRefused, "the seller has opened %d sessions in the last %s, its limit; try again shortly", len(u.until), anp.MaxTTL+anp.MaxClockSkew)
	}
	if u.file != nil {
		if _, err := fmt.Fprintf(u.file, "%s %d\n", id, until.UnixMilli()); err != nil {
			return fmt.Errorf("seller: remember session %s: %w", id, err)
		}
		u.written++
	}
	u.add(id, until.UnixMilli())
	return nil
}

// len returns the number of live entries.
func (u *usedSessions) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.until)
}

// close closes the file.
func (u *usedSessions) close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.file == nil {
		return nil
	}
	err := u.file.Close()
	u.file = nil
	return err
}
