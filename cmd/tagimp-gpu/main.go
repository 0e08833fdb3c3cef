// Command tagimp-gpu gives an image several tags and an importance for each
// tag, trained on MS-COCO captions, on the CPU or on an NVIDIA GPU.
//
// Each subcommand lives in its own file and registers itself; this file only
// assembles the application.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/urfave/cli/v2"
)

var commands []*cli.Command

// register adds a subcommand; called from the init functions of the files
// that define them.
func register(c *cli.Command) { commands = append(commands, c) }

func newApp() *cli.App {
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
	return &cli.App{
		Name:  "tagimp-gpu",
		Usage: "tag images and rate each tag's importance (MS-COCO captions, VGG16 fc7, MLPs)",
		Description: `Learns from MS-COCO captions which nouns describe an image (its tags) and how
important each one is (the share of the image's captions that mention it).

A first run on synthetic data, end to end (no downloads):
   tagimp-gpu demo --out demo-run

The real pipeline:
   tagimp-gpu vocab    --captions captions_train2014.json --min-count 1000 --out labels
   tagimp-gpu embed    --vocab labels/vocab.json --vectors GoogleNews-vectors-negative300.bin --out labels/tagvec.npy
   tagimp-gpu features --captions captions_train2014.json --images train2014/ --weights vgg16-397923af.pth --out fc7
   tagimp-gpu train    --model all --labels labels --features fc7 --tagvec labels/tagvec.npy --out run
   tagimp-gpu eval     --run run
   tagimp-gpu predict  --run run --cloud cloud.png photo.jpg

Build: plain "go build" gives the CPU engine; "make kernels && make build" the
GPU one (see README.md).`,
		Commands:             commands,
		EnableBashCompletion: true,
	}
}

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "tagimp-gpu:", err)
		os.Exit(1)
	}
}
