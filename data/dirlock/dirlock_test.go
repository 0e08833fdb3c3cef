package dirlock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary play a second process that holds a lock:
// with DIRLOCK_HOLD=DIR:NAME it takes the lock, prints "locked" and waits
// until its stdin closes (or it is killed).
func TestMain(m *testing.M) {
	if spec := os.Getenv("DIRLOCK_HOLD"); spec != "" {
		dir, name, _ := strings.Cut(spec, ":")
		l, err := Acquire(dir, name)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println("locked")
		bufio.NewReader(os.Stdin).ReadString('\n')
		l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdIn starts a second process holding dir's lock name and returns it
// once it holds the lock.
func holdIn(t *testing.T, dir, name string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "extra-arg")
	cmd.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir+":"+name)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	return cmd
}

func TestSecondWriterRefusedNamingHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cmd := holdIn(t, dir, "")
	_, err := Acquire(dir, "")
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("Acquire while another process holds the lock: %v, want a HeldError", err)
	}
	if held.PID != cmd.Process.Pid {
		t.Errorf("PID %d, want the holder's %d", held.PID, cmd.Process.Pid)
	}
	msg := err.Error()
	for _, want := range []string{dir, fmt.Sprintf("PID %d", cmd.Process.Pid), "extra-arg", "since"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one line: %q", msg)
	}
	// Another name in the same folder is independent (shards of one job).
	l, err := Acquire(dir, "fc7-1of2")
	if err != nil {
		t.Fatalf("another lock name in the same folder: %v", err)
	}
	l.Release()
}

func TestKilledHolderReleases(t *testing.T) {
	dir := t.TempDir()
	cmd := holdIn(t, dir, "")
	if _, err := Acquire(dir, ""); err == nil {
		t.Fatal("lock taken while held")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	l, err := Acquire(dir, "")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestNestedAndRelease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "folder")
	a, err := Acquire(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(dir+"/", "") // the same folder, spelled differently
	if err != nil {
		t.Fatalf("nested Acquire in one process: %v", err)
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	// Still held after the inner release: another process is refused.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir+":")
	got, _ := cmd.Output()
	if !strings.HasPrefix(string(got), "error:") || !strings.Contains(string(got), fmt.Sprintf("PID %d", os.Getpid())) {
		t.Errorf("second process while the outer lock is held: %q", got)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil {
		t.Errorf("second Release of the same Lock: %v", err)
	}
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir+":")
	cmd.Stdin = strings.NewReader("\n")
	if got, err := cmd.Output(); err != nil || string(got) != "locked\n" {
		t.Errorf("after release, another process: %q %v", got, err)
	}
}

func TestBadName(t *testing.T) {
	if _, err := Acquire(t.TempDir(), "a/b"); err == nil {
		t.Error("name with a slash accepted")
	}
}
