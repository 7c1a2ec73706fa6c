package registry

// Error text shared by the two HTTP clients of this package: the registry's
// calls to sellers (relay.go) and the registry Client.

// unwrapURLError drops the *url.Error wrapper that repeats method and URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
