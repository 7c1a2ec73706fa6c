package registry

// RaceEnabled tells the external tests (package registry_test) whether the
// race detector is on, so that they can scale their request counts.
const RaceEnabled = raceEnabled

// PaddedWire is paddedWire for the external tests.
var PaddedWire = paddedWire
