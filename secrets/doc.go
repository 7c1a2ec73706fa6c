// Package secrets keeps Clinch's key material and credentials on the server
// side: the permanent Ed25519 identity key file, the blind per-domain
// credentials file, and a redactor that scrubs known secret values from
// text and log streams. How credentials, session keys and exports are
// sealed is wire format and lives in core/anp; core/ never imports this
// package.
//
// Nothing in this package formats a secret into an error message, a String
// method or a JSON encoding. Files holding secrets must not be readable by
// group or others; loaders refuse them otherwise.
package secrets
