package anp

// Deterministic sealing for the tests and the vectors: the ephemeral key or
// the nonce is read from the reader passed first.
var (
	SealCredentialWith  = sealCredential
	SealExportWith      = sealExport
	SealSecretBytesWith = sealSecretBytes
)
