// Package secrets keeps Clinch's key material and credentials on the server
// side: the permanent Ed25519 identity key, blind per-domain credentials
// sealed to a seller's encryption key, sealed session exports for stateless
// deployments, and a redactor that scrubs known secret values from text and
// log streams.
//
// Nothing in this package formats a secret into an error message, a String
// method or a JSON encoding. Files holding secrets must not be readable by
// group or others; loaders refuse them otherwise.
package secrets
