package main

import (
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	// make test sets TAGIMP_SKIPPED_FILE (relative to the repository root)
	// for the real report; this test must not write it.
	t.Setenv("TAGIMP_SKIPPED_FILE", "")
	in := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: no /usr/bin/python3 with numpy\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Elapsed":0.5}
{"Action":"output","Package":"q","Test":"TestB","Output":"    b_test.go:3: wrong\n"}
{"Action":"fail","Package":"q","Test":"TestB"}
{"Action":"fail","Package":"q","Elapsed":0.1}
`
	var out strings.Builder
	failed, err := report(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"SKIP p TestA: no /usr/bin/python3 with numpy\n",
		"ok  \tp\t0.500s\n",
		"    b_test.go:3: wrong\n",
		"FAIL\tq\t0.100s\n",
		"skipped tests: 1\n  p TestA: no /usr/bin/python3 with numpy\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if !failed {
		t.Error("a failed package did not fail the report")
	}
	failed, _ = report(strings.NewReader(`{"Action":"pass","Package":"p"}`+"\n"), &out)
	if failed {
		t.Error("a passing run failed")
	}
}
