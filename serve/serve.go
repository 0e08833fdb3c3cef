package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tagimp/data/imageprep"
	"tagimp/tagger"
)

// Limits bound what one request and the server as a whole may take.
type Limits struct {
	// MaxBody is the largest request body in bytes.
	MaxBody int64
	// MaxPixels is the largest image (width × height), checked from the
	// image's header.
	MaxPixels int
	// MaxActive requests are read, decoded and run at once; up to MaxQueue
	// more wait for a turn (until their deadline), the rest are refused
	// with 503 at once.
	MaxActive, MaxQueue int
	// Timeout is the time one request may take, waiting included.
	Timeout time.Duration
	// MaxBatch images go through the network together; the batcher waits
	// up to BatchWait after the first image for others to join.
	MaxBatch  int
	BatchWait time.Duration
}

// DefaultLimits are the serve command's defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxBody: 20 << 20, MaxPixels: 40 << 20, MaxActive: 8, MaxQueue: 256,
		Timeout: 30 * time.Second, MaxBatch: 16, BatchWait: 2 * time.Millisecond,
	}
}

// Server answers tagging requests with one model.
type Server struct {
	m      *tagger.Model
	lim    Limits
	active chan struct{} // MaxActive slots
	queued atomic.Int64  // requests waiting or active
	jobs   chan *job
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	peakActive atomic.Int64
	nActive    atomic.Int64
	batches    atomic.Int64
	images     atomic.Int64
}

// job is one decoded image waiting for the network.
type job struct {
	x    []float32
	prob []float32
	imp  []float32
	err  error
	done chan struct{}
}

// New returns a server for m; Close stops its batcher.
func New(m *tagger.Model, lim Limits) (*Server, error) {
	if lim.MaxBody <= 0 || lim.MaxPixels <= 0 || lim.MaxActive <= 0 || lim.MaxQueue < 0 || lim.Timeout <= 0 || lim.MaxBatch <= 0 || lim.BatchWait < 0 {
		return nil, fmt.Errorf("serve: limits must be positive: %+v", lim)
	}
	s := &Server{m: m, lim: lim, active: make(chan struct{}, lim.MaxActive),
		jobs: make(chan *job, lim.MaxActive), stop: make(chan struct{})}
	s.wg.Add(1)
	go s.batcher()
	return s, nil
}

// Close stops the batcher; requests still waiting get an error.
func (s *Server) Close() {
	s.once.Do(func() { close(s.stop) })
	s.wg.Wait()
}

// Stats are counters of a server's work.
type Stats struct {
	Active, PeakActive, Batches, Images int64
}

// Stats returns the requests active now and the most that were active at
// once, and the batches and images run so far.
func (s *Server) Stats() Stats {
	return Stats{Active: s.nActive.Load(), PeakActive: s.peakActive.Load(), Batches: s.batches.Load(), Images: s.images.Load()}
}

// batcher runs the images that arrive together as one batch.
func (s *Server) batcher() {
	defer s.wg.Done()
	for {
		var first *job
		select {
		case first = <-s.jobs:
		case <-s.stop:
			return
		}
		batch := []*job{first}
		timer := time.NewTimer(s.lim.BatchWait)
	gather:
		for len(batch) < s.lim.MaxBatch {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		s.run(batch)
	}
}

func (s *Server) run(batch []*job) {
	n, size := len(batch), s.m.Prep.Len()
	x := make([]float32, 0, n*size)
	for _, j := range batch {
		x = append(x, j.x...)
	}
	prob, imp, err := s.m.Predict(x, n)
	s.batches.Add(1)
	s.images.Add(int64(n))
	T := s.m.Config.T
	for i, j := range batch {
		if err != nil {
			j.err = err
		} else {
			j.prob, j.imp = prob[i*T:(i+1)*T], imp[i*T:(i+1)*T]
		}
		close(j.done)
	}
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/tag", s.handleTag)
	mux.HandleFunc("/v1/model", s.handleModel)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s: POST /v1/tag, GET /v1/model, GET /healthz", r.URL.Path))
	})
	return mux
}

// apiError is the body of every refusal.
type apiError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, apiError{Error: msg, Status: status})
}

func (s *Server) handleTag(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST with an image as the body or as a multipart file")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.lim.Timeout)
	defer cancel()
	// A bounded queue, then a bounded number of active requests.
	if s.queued.Add(1) > int64(s.lim.MaxActive+s.lim.MaxQueue) {
		s.queued.Add(-1)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("server busy: more than %d requests waiting; retry later", s.lim.MaxActive+s.lim.MaxQueue))
		return
	}
	defer s.queued.Add(-1)
	select {
	case s.active <- struct{}{}:
	case <-ctx.Done():
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("server busy: no turn within %s; retry later", s.lim.Timeout))
		return
	}
	n := s.nActive.Add(1)
	for p := s.peakActive.Load(); n > p && !s.peakActive.CompareAndSwap(p, n); p = s.peakActive.Load() {
	}
	defer func() { s.nActive.Add(-1); <-s.active }()

	name, body, status, err := s.readImage(w, r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	x, err := s.m.Decode(body, s.lim.MaxPixels)
	body = nil
	if err != nil {
		writeError(w, decodeStatus(err), err.Error())
		return
	}
	j := &job{x: x, done: make(chan struct{})}
	select {
	case s.jobs <- j:
	case <-ctx.Done():
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("took longer than %s; retry later", s.lim.Timeout))
		return
	case <-s.stop:
		writeError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("took longer than %s; retry later", s.lim.Timeout))
		return
	case <-s.stop:
		writeError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	if j.err != nil {
		writeError(w, http.StatusInternalServerError, j.err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.m.Line(name, j.prob, j.imp, 0))
}

// readImage returns the request's image bytes: the body, or the first file
// of a multipart form; status says why not.
func (s *Server) readImage(w http.ResponseWriter, r *http.Request) (name string, body []byte, status int, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.lim.MaxBody)
	name = r.URL.Query().Get("name")
	src := io.Reader(r.Body)
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return "", nil, readStatus(err), fmt.Errorf("multipart body has no file part (send the image as a form file, e.g. curl -F image=@photo.jpg): %w", err)
			}
			if p.FileName() != "" || p.FormName() == "image" {
				if name == "" {
					name = p.FileName()
				}
				src = p
				break
			}
		}
	}
	body, err = io.ReadAll(src)
	if err != nil {
		return "", nil, readStatus(err), fmt.Errorf("read body: %w", err)
	}
	if len(body) == 0 {
		return "", nil, http.StatusBadRequest, errors.New("empty body: send a JPEG or PNG image as the body or as a multipart file")
	}
	return name, body, 0, nil
}

func readStatus(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

func decodeStatus(err error) int {
	switch {
	case errors.Is(err, imageprep.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, imageprep.ErrFormat):
		return http.StatusUnsupportedMediaType
	default: // empty, truncated, corrupt
		return http.StatusBadRequest
	}
}

// ModelInfo is the answer of GET /v1/model.
type ModelInfo struct {
	Run       string   `json:"run"`
	Model     string   `json:"model"`
	Tags      []string `json:"tags"`
	Threshold float64  `json:"threshold"`
	Epoch     int      `json:"epoch"`
	Engine    string   `json:"engine"`
	Features  struct {
		Backbone      string `json:"backbone"`
		Weights       string `json:"weights"`
		WeightsSHA256 string `json:"weights_sha256"`
		Preprocess    string `json:"preprocess"`
		CenterCrop    bool   `json:"center_crop"`
		ImageSize     int    `json:"image_size"`
		Device        string `json:"device"`
	} `json:"features"`
	Limits struct {
		MaxBody   int64   `json:"max_body_bytes"`
		MaxPixels int     `json:"max_pixels"`
		MaxActive int     `json:"max_active"`
		MaxQueue  int     `json:"max_queue"`
		Timeout   float64 `json:"timeout_seconds"`
		MaxBatch  int     `json:"max_batch"`
	} `json:"limits"`
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	m := s.m
	var info ModelInfo
	info.Run, info.Model, info.Tags, info.Threshold = m.Run, string(m.Kind), m.Tags, m.Config.Threshold
	info.Epoch, info.Engine = m.Meta.Epoch, m.Engine
	f := m.Meta.Data.Features
	info.Features.Backbone, info.Features.Weights, info.Features.WeightsSHA256 = f.Backbone, m.Net.Source(), m.Net.SHA256()
	info.Features.Preprocess, info.Features.CenterCrop, info.Features.ImageSize, info.Features.Device = m.Prep.Mode, m.Prep.CenterCrop, m.Prep.Size, m.FeatureDevice
	l := s.lim
	info.Limits.MaxBody, info.Limits.MaxPixels, info.Limits.MaxActive, info.Limits.MaxQueue = l.MaxBody, l.MaxPixels, l.MaxActive, l.MaxQueue
	info.Limits.Timeout, info.Limits.MaxBatch = l.Timeout.Seconds(), l.MaxBatch
	writeJSON(w, http.StatusOK, info)
}

// Serve answers on ln until ctx is done, then shuts down gracefully: no new
// connections, requests in flight finish (for up to grace), then the
// batcher stops.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.lim.Timeout,
		WriteTimeout:      s.lim.Timeout + 5*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	s.Close()
	if err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	return nil
}
