package tagger_test

import (
	"os"
	"testing"

	"tagimp/internal/testrun"
)

func demoRun(t *testing.T) string { return testrun.Demo(t) }

func demoImages(t *testing.T, dir string) []string { return testrun.Images(t, dir) }

func TestMain(m *testing.M) {
	code := m.Run()
	testrun.Cleanup()
	os.Exit(code)
}
