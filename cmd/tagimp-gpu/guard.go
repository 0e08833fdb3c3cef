package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"tagimp/data/dirlock"
	"tagimp/internal/argcheck"
)

// skipChecksumFlag is --skip-checksum of the commands that load a
// checkpoint (train on resume, eval, predict).
func skipChecksumFlag() *cli.BoolFlag {
	return &cli.BoolFlag{
		Name:  "skip-checksum",
		Usage: "load checkpoints without comparing their files with the SHA-256 the run recorded (saves reading them twice; for very large files)",
	}
}

// positive refuses any of the named int flags below 1, before work starts.
func positive(c *cli.Context, flags ...string) error {
	for _, f := range flags {
		if err := argcheck.Positive(f, c.Int(f)); err != nil {
			return err
		}
	}
	return nil
}

// lockOut checks that the folder of flag --NAME can be written and takes
// its lock (package dirlock) for the whole command: a second writer is
// refused in one line naming this process. Call release when done (the
// kernel releases the lock anyway when the process ends).
//
// A folder that lockOut creates and the command leaves empty (it failed)
// is removed again on release.
func lockOut(c *cli.Context, flag string) (release func(), err error) {
	dir := c.String(flag)
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := argcheck.WritableDir(flag, dir); err != nil {
		return nil, err
	}
	l, err := dirlock.Acquire(dir, "")
	if err != nil {
		return nil, err
	}
	return func() {
		l.Release()
		if entries, err := os.ReadDir(dir); created && err == nil && len(entries) == 1 && entries[0].Name() == dirlock.FileName("") {
			os.Remove(filepath.Join(dir, entries[0].Name()))
			os.Remove(dir)
		}
	}, nil
}
