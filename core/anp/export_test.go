package anp

// Deterministic sealing for the tests and the vectors: the ephemeral key is
// read from the reader passed first.
var SealCredentialWith = sealCredential
