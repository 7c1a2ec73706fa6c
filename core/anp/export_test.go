package anp

import "reflect"

// Deterministic sealing for the tests and the vectors: the ephemeral key or
// the nonce is read from the reader passed first.
var (
	SealCredentialWith  = sealCredential
	SealExportWith      = sealExport
	SealSecretBytesWith = sealSecretBytes
)

// ISO4217Table is list one as the package holds it: code → numeric code and
// minor unit (-1 for "N.A."), for the money vectors.
func ISO4217Table() map[string][2]int {
	out := make(map[string][2]int, len(iso4217))
	for code, c := range iso4217 {
		out[code] = [2]int{c.Numeric, c.MinorUnit}
	}
	return out
}

// CanonicalReference is the reference path of Canonical (json.Marshal and
// jcs.Transform); CanonicalTyped is the typed writer alone, which fails
// with ErrSlowPath where Canonical takes the reference path.
var (
	CanonicalReference = canonicalReference
	ErrSlowPath        = errSlowPath
)

func CanonicalTyped(v any) ([]byte, error) { return appendCanonical(nil, reflect.ValueOf(v), 0) }
