package model

// SetSaveFaultForTest makes SaveCheckpoint stop after the stage for which
// f returns an error, as if the process had been killed there; the
// returned function removes the hook.
func SetSaveFaultForTest(f func(stage string) error) (restore func()) {
	saveFault = f
	return func() { saveFault = nil }
}
