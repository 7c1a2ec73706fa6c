package seller

import (
	"bufio"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Bounds of the default total session bytes.
const (
	minDefaultTotalBytes      = 64 << 20
	maxDefaultTotalBytes      = 16 << 30
	fallbackDefaultTotalBytes = 1 << 30
)

// DefaultMaxTotalBytes is the default of Config.MaxTotalBytes, sized for the
// machine: half of the Go memory limit when one is set (GOMEMLIMIT), else a
// quarter of the physical memory (Linux /proc/meminfo), else 1 GiB; always
// between 64 MiB and 16 GiB.
func DefaultMaxTotalBytes() int64 {
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < math.MaxInt64 {
		return clampTotal(lim / 2)
	}
	if mem, ok := physicalMemory("/proc/meminfo"); ok {
		return clampTotal(mem / 4)
	}
	return fallbackDefaultTotalBytes
}

func clampTotal(v int64) int64 { return min(max(v, minDefaultTotalBytes), maxDefaultTotalBytes) }

// physicalMemory reads MemTotal (in kB) from a meminfo file.
func physicalMemory(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return memTotal(f)
}

// memTotal parses the MemTotal line of meminfo text, in bytes.
func memTotal(r io.Reader) (int64, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		if !ok {
			return 0, false
		}
		v, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
		if err != nil || v <= 0 || v > math.MaxInt64/1024 {
			return 0, false
		}
		return v * 1024, true
	}
	return 0, false
}
