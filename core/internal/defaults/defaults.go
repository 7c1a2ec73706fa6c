// Package defaults fills unset configuration values. It holds what the
// core packages (registry, seller) share when they complete a Config.
package defaults

// Positive returns v when it is above zero, else def: a count, size or
// duration that is zero or negative in a Config means "use the default".
func Positive[T ~int | ~int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
