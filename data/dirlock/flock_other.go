//go:build !unix

package dirlock

import "os"

// tryLock always succeeds where flock(2) does not exist: folders are not
// protected from a second writer there.
func tryLock(f *os.File) (bool, error) { return true, nil }

func unlock(f *os.File) {}
