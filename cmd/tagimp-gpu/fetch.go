package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"tagimp/data/fetch"
	"tagimp/internal/progress"
	thirdparty "tagimp/third_party"
)

func init() {
	register(&cli.Command{
		Name:      "fetch",
		Usage:     "download an external asset (VGG16 weights, COCO, word2vec) with resume and checksum check",
		ArgsUsage: "NAME",
		Description: `Downloads one asset listed in third_party/assets.json (built into the binary)
into --dir. The transfer goes to FILE.part and resumes with an HTTP Range request
when it is cut or when the same command is run again; the file is checked against
the manifest's size and SHA-256 (or MD5 where only that is published) and renamed
to FILE only when it matches. A mismatch deletes FILE.part and prints both hashes.

Assets without a published checksum (word2vec-googlenews) need --sha256 HEX to pin
one or --allow-unverified to accept the file after a size check.

Examples:
   tagimp-gpu fetch --list
   tagimp-gpu fetch vgg16-torchvision --dir assets/
   tagimp-gpu fetch coco2017-annotations --dir data/coco/`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: ".", Usage: "folder to save the file in (created if missing)"},
			&cli.StringFlag{Name: "manifest", Usage: "read assets from this JSON file instead of the built-in third_party/assets.json"},
			&cli.StringFlag{Name: "sha256", Usage: "expected SHA-256 (hex), overriding the manifest's"},
			&cli.BoolFlag{Name: "allow-unverified", Usage: "accept an asset with no published checksum after a size check"},
			&cli.BoolFlag{Name: "list", Usage: "list the assets (name, size, checksum, file) and exit"},
		},
		Action: runFetch,
	})
}

func runFetch(c *cli.Context) error {
	args, err := interspersedArgs(c)
	if err != nil {
		return err
	}
	raw := thirdparty.AssetsJSON
	if p := c.String("manifest"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read manifest: %w", err)
		}
		raw = b
	}
	m, err := fetch.ParseManifest(raw)
	if err != nil {
		return err
	}
	if c.Bool("list") {
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSIZE\tCHECKED BY\tFILE")
		for _, a := range m.Assets {
			check := "size only"
			switch {
			case a.SHA256 != "":
				check = "sha256"
			case a.MD5 != "":
				check = "md5"
			}
			fmt.Fprintf(tw, "%s\t%.2f GB\t%s\t%s\n", a.Name, float64(a.Size)/1e9, check, a.File)
		}
		return tw.Flush()
	}
	if len(args) != 1 {
		return fmt.Errorf("fetch needs exactly one asset NAME; known assets: %s", strings.Join(m.Names(), ", "))
	}
	a, err := m.Find(args[0])
	if err != nil {
		return err
	}
	if h := strings.ToLower(c.String("sha256")); h != "" {
		if len(h) != 64 {
			return fmt.Errorf("--sha256 %q: want 64 hex digits", h)
		}
		a.SHA256 = h
	}
	var bar *progress.Bar // made at the first byte, so early errors print no bar
	opt := fetch.Options{
		AllowUnverified: c.Bool("allow-unverified"),
		Progress: func(done, total int) {
			// The bar counts megabytes (10^6 bytes) so rate and size read well.
			if bar == nil {
				bar = newProgress(max(total/1e6, 1), "MB")
				bar.Describe(a.File)
			}
			if total > 0 && bar.GetMax() != max(total/1e6, 1) {
				bar.ChangeMax(max(total/1e6, 1))
			}
			bar.Set(done / 1e6)
		},
	}
	res, err := fetch.Download(c.Context, a, c.String("dir"), opt)
	if bar != nil {
		if err != nil {
			bar.Exit()
			fmt.Fprintln(os.Stderr)
		} else {
			bar.Finish()
		}
	}
	if err != nil {
		return err
	}
	state := "downloaded"
	switch {
	case res.Existed:
		state = "already present"
	case res.Resumed:
		state = "downloaded (resumed)"
	}
	fmt.Printf("%s: %s, %d bytes, verified by %s\nsha256 %s\n", res.Path, state, res.Size, res.Verified, res.SHA256)
	if a.License != "" {
		fmt.Printf("license: %s\n", a.License)
	}
	return nil
}

// interspersedArgs returns the command's positional arguments after parsing
// any flags that follow them (urfave/cli stops at the first argument), so
// that `fetch NAME --dir DIR` works as well as `fetch --dir DIR NAME`.
func interspersedArgs(c *cli.Context) ([]string, error) {
	rest := c.Args().Slice()
	var pos []string
	for len(rest) > 0 {
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		if !strings.HasPrefix(rest[0], "-") || rest[0] == "-" {
			pos = append(pos, rest[0])
			rest = rest[1:]
			continue
		}
		set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
		set.SetOutput(io.Discard)
		for _, f := range c.Command.Flags {
			if err := f.Apply(set); err != nil {
				return nil, err
			}
		}
		if err := set.Parse(rest); err != nil {
			return nil, fmt.Errorf("%s: %w (see --help)", c.Command.Name, err)
		}
		var err error
		set.Visit(func(f *flag.Flag) {
			if e := c.Set(f.Name, f.Value.String()); e != nil && err == nil {
				err = fmt.Errorf("%s: --%s: %w", c.Command.Name, f.Name, e)
			}
		})
		if err != nil {
			return nil, err
		}
		rest = set.Args()
	}
	return pos, nil
}
