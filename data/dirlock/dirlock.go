// Package dirlock gives a process exclusive use of an output folder while
// it writes there: an advisory lock (flock(2)) on a lock file inside the
// folder. The kernel releases the lock when the process ends in any way,
// kill -9 included, so a lock never outlives its holder and nothing has to
// be cleaned up by hand.
//
// The holder writes its PID, command line and start time into the lock
// file, so a second writer is refused with one line that names them:
//
//	run is in use by PID 4242 (tagimp-gpu train --seed 1 --out run) since 01:02:03 UTC; wait for it to end or write to another folder
//
// A process may take the same lock again (nested Acquire calls on the same
// folder and name are counted; the lock goes with the last Release), so a
// command can hold its folder for its whole run while the library calls it
// makes take it too. Different names give independent locks in one folder:
// the parts of a sharded feature job (--shard K/N) each lock their own
// part.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FileName returns the name of the lock file for name in a folder:
// ".tagimp.lock" for the whole folder (name ""), ".tagimp-NAME.lock"
// otherwise.
func FileName(name string) string {
	if name == "" {
		return ".tagimp.lock"
	}
	return ".tagimp-" + name + ".lock"
}

// Lock is an exclusive lock on a folder (or one named part of it) held by
// this process.
type Lock struct {
	path string
}

// HeldError says that another process holds the lock.
type HeldError struct {
	Dir     string
	PID     int    // 0 when the holder has not yet written it
	Command string // the holder's command line
	Since   time.Time
}

func (e *HeldError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "PID " + strconv.Itoa(e.PID)
		if e.Command != "" {
			who += " (" + e.Command + ")"
		}
		if !e.Since.IsZero() {
			who += " since " + e.Since.UTC().Format("15:04:05 MST")
		}
	}
	return fmt.Sprintf("%s is in use by %s; wait for it to end or write to another folder", e.Dir, who)
}

type held struct {
	f     *os.File
	count int
}

var (
	mu    sync.Mutex
	locks = map[string]*held{}
)

// Acquire takes the exclusive lock name ("" for the whole folder) on dir,
// creating dir when it does not exist. It does not wait: when another
// process holds the lock it returns a *HeldError. Release the lock when the
// writing is done; the kernel releases it anyway when the process exits.
func Acquire(dir, name string) (*Lock, error) {
	if strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("lock %s: name %q is not a file name", dir, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	path := filepath.Join(abs, FileName(name))

	mu.Lock()
	defer mu.Unlock()
	if h := locks[path]; h != nil {
		h.count++
		return &Lock{path: path}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w (is the folder writable?)", dir, err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		f.Close()
		return nil, holder(dir, path)
	}
	// Who holds it, for the message of a second writer. Failing to write
	// this only makes that message vaguer.
	info := fmt.Sprintf("%d\n%s\n%s\n", os.Getpid(), commandLine(), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(info), 0)
	}
	locks[path] = &held{f: f, count: 1}
	return &Lock{path: path}, nil
}

// Release gives the lock up (the last of nested Acquire calls does). The
// lock file stays: removing it could let two processes lock two different
// files of the same name.
func (l *Lock) Release() error {
	if l == nil || l.path == "" {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	path := l.path
	l.path = ""
	h := locks[path]
	if h == nil {
		return errors.New("dirlock: release of a lock not held")
	}
	if h.count--; h.count > 0 {
		return nil
	}
	delete(locks, path)
	h.f.Truncate(0)
	unlock(h.f)
	return h.f.Close()
}

// holder reads who holds the lock at path. The holder writes its details
// right after locking, so an empty file is read again a few times.
func holder(dir, path string) *HeldError {
	e := &HeldError{Dir: dir}
	for try := 0; try < 10; try++ {
		b, _ := os.ReadFile(path)
		lines := strings.SplitN(strings.TrimRight(string(b), "\n"), "\n", 3)
		if pid, err := strconv.Atoi(lines[0]); err == nil && pid > 0 {
			e.PID = pid
			if len(lines) > 1 {
				e.Command = lines[1]
			}
			if len(lines) > 2 {
				e.Since, _ = time.Parse(time.RFC3339, lines[2])
			}
			return e
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e
}

// commandLine is this process's command line, the program by its base name,
// cut to a readable length.
func commandLine() string {
	if len(os.Args) == 0 {
		return ""
	}
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	s := strings.Join(args, " ")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}
