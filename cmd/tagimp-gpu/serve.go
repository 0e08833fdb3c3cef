package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"tagimp/serve"
)

func init() {
	d := serve.DefaultLimits()
	register(&cli.Command{
		Name:  "serve",
		Usage: "answer tagging requests over HTTP with a trained run",
		Description: `Loads a model of --run (as tag and predict do) and answers on --addr:
   POST /v1/tag     an image (JPEG or PNG) as the request body, or as a multipart
                    form's file; the answer is the JSON of one line of "tag":
                    {"file":…,"id":…,"tags":[{"tag","importance","probability"},…]}
                    (file: the form file's name or ?name=…)
   GET  /v1/model   the vocabulary, model, threshold, feature source and limits
   GET  /healthz    {"status":"ok"}

Limits, each refused with a JSON {"error","status"}: a body over --max-body
(413), an image whose header claims more than --max-pixels (413, before any pixel
memory is allocated), a body that is not a JPEG or PNG (415) or is truncated or
empty (400), more than --max-active + --max-queue requests at once or no turn or
answer within --timeout (503 with Retry-After). Up to --max-active requests are
decoded and run at once; images that arrive together go through VGG16 and the
model as one batch of up to --max-batch. SIGTERM or Ctrl-C stops accepting
connections and lets the requests in flight finish (up to --grace).

Examples:
   tagimp-gpu serve --run demo-run/run
   curl --data-binary @photo.jpg http://127.0.0.1:8080/v1/tag
   curl -F image=@photo.jpg http://127.0.0.1:8080/v1/tag`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "run", Required: true, Usage: "run folder written by train (or demo: DIR/run)"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "address to listen on"},
			&cli.StringFlag{Name: "model", Usage: "baseline, model1 or model2 (default: the most advanced one in the run)"},
			&cli.StringFlag{Name: "weights", Usage: "VGG16 weights (.pth/.npz) or random:SEED; default: what the run's features were computed with"},
			&cli.Float64Flag{Name: "threshold", Usage: "probability θ above which a tag is predicted (default: the run's)"},
			skipChecksumFlag(),
			&cli.Int64Flag{Name: "max-body", Value: d.MaxBody, Usage: "largest request body in bytes"},
			&cli.IntFlag{Name: "max-pixels", Value: d.MaxPixels, Usage: "largest image in pixels (width × height)"},
			&cli.IntFlag{Name: "max-active", Value: d.MaxActive, Usage: "requests decoded and run at once"},
			&cli.IntFlag{Name: "max-queue", Value: d.MaxQueue, Usage: "requests waiting for a turn before more are refused"},
			&cli.DurationFlag{Name: "timeout", Value: d.Timeout, Usage: "time one request may take, waiting included"},
			&cli.IntFlag{Name: "max-batch", Value: d.MaxBatch, Usage: "images run through the network together"},
			&cli.DurationFlag{Name: "batch-wait", Value: d.BatchWait, Usage: "how long the first image of a batch waits for others"},
			&cli.DurationFlag{Name: "grace", Value: 30 * time.Second, Usage: "how long shutdown waits for requests in flight"},
			deviceFlag(),
		},
		Action: runServe,
	})
}

func runServe(c *cli.Context) error {
	m, err := openTagger(c)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer m.Close()
	srv, err := serve.New(m, serve.Limits{
		MaxBody: c.Int64("max-body"), MaxPixels: c.Int("max-pixels"), MaxActive: c.Int("max-active"),
		MaxQueue: c.Int("max-queue"), Timeout: c.Duration("timeout"), MaxBatch: c.Int("max-batch"), BatchWait: c.Duration("batch-wait"),
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return fmt.Errorf("serve: %w (choose another --addr)", err)
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, os.Interrupt)
	defer stop()
	fmt.Fprintf(os.Stderr, "serve: %s\nserve: listening on http://%s (POST /v1/tag, GET /v1/model, GET /healthz)\n", m, ln.Addr())
	err = srv.Serve(ctx, ln, c.Duration("grace"))
	if ctx.Err() != nil && err == nil {
		st := srv.Stats()
		fmt.Fprintf(os.Stderr, "serve: stopped after %d images in %d batches\n", st.Images, st.Batches)
	}
	return err
}
