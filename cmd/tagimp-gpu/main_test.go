package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestResolveDevice(t *testing.T) {
	cases := []struct {
		flag, want, err string
	}{
		{"cpu", "cpu", ""},
		{"auto", "", ""},
		{"tpu", "", "want auto, cpu or gpu"},
	}
	for _, c := range cases {
		set := flag.NewFlagSet("t", flag.ContinueOnError)
		set.String("device", c.flag, "")
		ctx := cli.NewContext(newApp(), set, nil)
		got, err := resolveDevice(ctx)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("%s: err = %v", c.flag, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.flag, err)
		}
		if c.want != "" && got != c.want {
			t.Fatalf("%s: got %s", c.flag, got)
		}
		if got != "cpu" && got != "gpu" {
			t.Fatalf("%s: got %q", c.flag, got)
		}
	}
}
