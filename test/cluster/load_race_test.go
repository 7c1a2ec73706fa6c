//go:build race

package cluster_test

// loadBuyers is the number of concurrent buyers of TestLoadConcurrentBuyers.
// The race detector slows the buyers (in the test process, not the
// daemons) several times, so under it the test shows the mechanism with
// fewer; the figures come from the run without it (scripts/test.sh load).
const loadBuyers = 50
