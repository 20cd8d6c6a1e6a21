package model

// SetLanesEnv sets XENT_LANES's value for the tests that follow, returning the old one.
func SetLanesEnv(v string) (old string) {
	old, lanesEnv = lanesEnv, v
	return old
}
