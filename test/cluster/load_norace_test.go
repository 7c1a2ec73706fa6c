//go:build !race

package cluster_test

// loadBuyers is the number of concurrent buyers of TestLoadConcurrentBuyers.
const loadBuyers = 1000
