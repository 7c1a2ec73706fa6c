//go:build !race

package registry

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false
