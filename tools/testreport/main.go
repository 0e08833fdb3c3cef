// Command testreport reads the output of go test -json on its standard
// input and prints what a plain go test prints for a package list (an ok or
// FAIL line per package, the output of failing tests), plus one line for
// every skipped test saying why, which plain go test hides unless -v is
// given, and at the end the list of skipped tests. It exits 1 when a
// package or test failed (or a package did not build).
//
//	go test -json ./... | go run ./tools/testreport
//
// With TAGIMP_SKIPPED_FILE set it also writes the list of skipped tests to
// that file (CI prints it at the very end).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// event is one line of go test -json (test2json's TestEvent).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// location matches the "file_test.go:12: " prefix of a t.Log line.
var location = regexp.MustCompile(`^\s*[\w./-]+\.go:\d+: `)

func main() {
	failed, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// report reads events from r and writes the summary to w. It reports
// whether anything failed.
func report(r io.Reader, w io.Writer) (failed bool, err error) {
	output := map[string][]string{} // package or package.Test → its output lines
	var skipped []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			fmt.Fprintln(w, string(line)) // not JSON: build errors from older Go
			continue
		}
		key := e.Package
		if e.Test != "" {
			key += "." + e.Test
		}
		switch e.Action {
		case "output", "build-output":
			output[key] = append(output[key], e.Output)
		case "skip":
			if e.Test == "" {
				delete(output, key) // a package without tests
				continue
			}
			s := fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(output[key]))
			skipped = append(skipped, s)
			fmt.Fprintln(w, "SKIP", s)
			delete(output, key)
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(w, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
			}
			delete(output, key)
		case "fail", "build-fail":
			failed = true
			fmt.Fprint(w, strings.Join(output[key], ""))
			if e.Test == "" && e.Action == "fail" {
				fmt.Fprintf(w, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
			}
			delete(output, key)
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	list := fmt.Sprintf("skipped tests: %d\n", len(skipped))
	for _, s := range skipped {
		list += "  " + s + "\n"
	}
	fmt.Fprint(w, list)
	if path := os.Getenv("TAGIMP_SKIPPED_FILE"); path != "" {
		if err := os.WriteFile(path, []byte(list), 0o644); err != nil {
			return true, err
		}
	}
	return failed, nil
}

// skipReason is the message a skipped test gave: its last output line
// other than the "--- SKIP" line, without the file:line prefix.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		return location.ReplaceAllString(l, "")
	}
	return "(no reason given)"
}
