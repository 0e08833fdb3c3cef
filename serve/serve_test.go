package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tagimp/internal/testrun"
	"tagimp/serve"
	"tagimp/tagger"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testrun.Cleanup()
	os.Exit(code)
}

// server starts a server for the demo run on a loopback port and returns
// its base URL; the server stops when the test ends.
func server(t *testing.T, lim serve.Limits) (string, *serve.Server, *tagger.Model, context.CancelFunc, func() error) {
	t.Helper()
	dir := testrun.Demo(t)
	m, err := tagger.Open(filepath.Join(dir, "run"), tagger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := serve.New(m, lim)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var serveErr error
	done := make(chan struct{})
	go func() { serveErr = s.Serve(ctx, ln, 5*time.Second); close(done) }()
	wait := func() error {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("server did not stop within 20 s")
		}
		return serveErr
	}
	t.Cleanup(func() {
		cancel()
		wait()
		m.Close()
	})
	return "http://" + ln.Addr().String(), s, m, cancel, wait
}

var client = &http.Client{Timeout: 30 * time.Second}

// post sends body to url (a base URL means its /v1/tag) and decodes the JSON answer into v.
func post(t *testing.T, url, ctype string, body io.Reader, v any) int {
	t.Helper()
	if !strings.Contains(url, "/v1/") {
		url += "/v1/tag"
	}
	resp, err := client.Post(url, ctype, body)
	if err != nil {
		t.Errorf("POST: %v", err)
		return 0
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Errorf("answer (status %d) is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode
}

func multipartBody(t *testing.T, name string, data []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("note", "ignored")
	fw, err := mw.CreateFormFile("image", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return mw.FormDataContentType(), &buf
}

// sameLine compares an answer with tag's line for the same image, sent
// under the name file.
func sameLine(t *testing.T, got, want tagger.Line, file string) {
	t.Helper()
	if got.File != file || (got.ID == nil) != (want.ID == nil) || got.ID != nil && *got.ID != *want.ID || len(got.Tags) != len(want.Tags) {
		t.Errorf("answer %+v, tag gives %+v", got, want)
		return
	}
	for i := range got.Tags {
		a, b := got.Tags[i], want.Tags[i]
		if a.Tag != b.Tag || math.Abs(a.Importance-b.Importance) > 1e-5 || math.Abs(a.Probability-b.Probability) > 1e-5 {
			t.Errorf("%s tag %d: %+v, tag gives %+v", got.File, i, a, b)
		}
	}
}

// tagLines are what the tag command writes for files.
func tagLines(t *testing.T, m *tagger.Model, files []string) map[string]tagger.Line {
	t.Helper()
	var buf bytes.Buffer
	if _, err := m.Stream(context.Background(), files, &buf, tagger.StreamOptions{Batch: 5}); err != nil {
		t.Fatal(err)
	}
	out := map[string]tagger.Line{}
	for _, s := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l tagger.Line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatal(err)
		}
		out[l.File] = l
	}
	return out
}

// Answers equal tag's lines, for a raw body and a multipart file; the
// model and health endpoints answer.
func TestServeAnswersAsTag(t *testing.T) {
	url, _, m, _, _ := server(t, serve.DefaultLimits())
	files := testrun.Images(t, testrun.Demo(t))[:6]
	want := tagLines(t, m, files)
	tags := 0
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var got tagger.Line
		var status int
		if i%2 == 0 {
			status = post(t, url+"/v1/tag?name="+f, "image/png", bytes.NewReader(data), &got)
			sameLine(t, got, want[f], f)
		} else {
			// A multipart file's name arrives without its folder.
			ct, body := multipartBody(t, f, data)
			status = post(t, url, ct, body, &got)
			sameLine(t, got, want[f], filepath.Base(f))
		}
		if status != http.StatusOK {
			t.Fatalf("%s: status %d: %+v", f, status, got)
		}
		tags += len(got.Tags)
	}
	if tags == 0 {
		t.Errorf("no tags in any answer: the comparison would not catch wrong ones")
	}

	resp, err := client.Get(url + "/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	var info serve.ModelInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if resp.StatusCode != 200 || info.Model != string(m.Kind) || len(info.Tags) != m.Config.T || info.Features.Weights == "" || info.Features.ImageSize != m.Prep.Size {
		t.Errorf("/v1/model: %d %+v", resp.StatusCode, info)
	}
	resp, err = client.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"ok"`) {
		t.Errorf("/healthz: %d %s", resp.StatusCode, b)
	}
}

// pngHeader is a valid PNG signature and IHDR chunk claiming w×h pixels,
// with no image data after it.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write([]byte("\x89PNG\r\n\x1a\n"))
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// truncatedJPEG is the first half of a JPEG of a demo image.
func truncatedJPEG(t *testing.T, file string) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, nil)
	return buf.Bytes()[:buf.Len()/2]
}

// Each limit is refused with its status and a JSON error.
func TestServeLimits(t *testing.T) {
	lim := serve.DefaultLimits()
	lim.MaxBody = 64 << 10
	url, _, _, _, _ := server(t, lim)
	files := testrun.Images(t, testrun.Demo(t))
	for _, tc := range []struct {
		name, ctype string
		body        []byte
		status      int
		says        string
	}{
		{"text", "text/plain", []byte("hello, this is not a picture\n"), 415, "not a JPEG or PNG"},
		{"truncated JPEG", "image/jpeg", truncatedJPEG(t, files[0]), 400, "truncated"},
		{"30000x30000 PNG header", "image/png", pngHeader(30000, 30000), 413, "too large"},
		{"body over the limit", "image/png", bytes.Repeat([]byte{0x89}, 64<<10+1), 413, "too large"},
		{"empty", "image/png", nil, 400, "empty"},
	} {
		var e struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
		}
		status := post(t, url, tc.ctype, bytes.NewReader(tc.body), &e)
		if status != tc.status || e.Status != tc.status || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s: status %d, error %+v; want %d saying %q", tc.name, status, e, tc.status, tc.says)
		}
	}
	resp, err := client.Get(url + "/v1/tag")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/tag: %d", resp.StatusCode)
	}
	resp, err = client.Get(url + "/v2/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v2/nothing: %d", resp.StatusCode)
	}
}

// 100 clients at once, every tenth sending a bad body: every good request
// gets tag's answer, every bad one its error, no more requests are active
// than allowed, images are batched, and the heap stays bounded.
func TestServe100Concurrent(t *testing.T) {
	lim := serve.DefaultLimits()
	lim.MaxActive, lim.BatchWait = 8, 5*time.Millisecond
	url, srv, m, _, _ := server(t, lim)
	files := testrun.Images(t, testrun.Demo(t))[:20]
	want := tagLines(t, m, files)
	bodies := make([][]byte, len(files))
	for i, f := range files {
		bodies[i], _ = os.ReadFile(f)
	}
	bad := [][]byte{[]byte("text"), truncatedJPEG(t, files[0]), pngHeader(30000, 30000)}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	var wg sync.WaitGroup
	var okCount, badCount atomic.Int32
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%10 == 9 {
				var e map[string]any
				if status := post(t, url, "application/octet-stream", bytes.NewReader(bad[i/10%3]), &e); status < 400 || status >= 500 {
					t.Errorf("bad body %d: status %d %v", i, status, e)
				}
				badCount.Add(1)
				return
			}
			f := files[i%len(files)]
			var got tagger.Line
			if status := post(t, url+"/v1/tag?name="+f, "image/png", bytes.NewReader(bodies[i%len(files)]), &got); status != 200 {
				t.Errorf("request %d: status %d %+v", i, status, got)
				return
			}
			sameLine(t, got, want[f], f)
			okCount.Add(1)
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	st := srv.Stats()
	if okCount.Load() != 90 || badCount.Load() != 10 {
		t.Errorf("%d answered, %d refused", okCount.Load(), badCount.Load())
	}
	if st.PeakActive > int64(lim.MaxActive) || st.PeakActive < 2 {
		t.Errorf("peak active requests %d, limit %d", st.PeakActive, lim.MaxActive)
	}
	if st.Images != 90 || st.Batches >= st.Images {
		t.Errorf("%d images in %d batches: not batched", st.Images, st.Batches)
	}
	if grow := int64(peak.Load()) - int64(base); grow > 256<<20 {
		t.Errorf("heap grew by %d MiB under 100 clients", grow>>20)
	}
	t.Logf("100 clients: peak active %d, %d images in %d batches, heap +%d MiB", st.PeakActive, st.Images, st.Batches, (int64(peak.Load())-int64(base))>>20)
}

// slowRequest opens a raw connection to the server at url, sends the
// headers of a POST /v1/tag of data and its first bytes, and returns a
// function that sends the rest and returns the answer's status.
func slowRequest(t *testing.T, url string, data []byte) (finish func() int) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /v1/tag HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", len(data))
	conn.Write(data[:10])
	return func() int {
		conn.Write(data[10:])
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("slow request: %v", err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

// With one active request and no queue, a second is refused at once with
// 503; a shutdown lets the request in flight finish, then stops.
func TestServeBusyShutdown(t *testing.T) {
	lim := serve.DefaultLimits()
	lim.MaxActive, lim.MaxQueue, lim.Timeout = 1, 0, 10*time.Second
	url, srv, _, cancel, wait := server(t, lim)
	files := testrun.Images(t, testrun.Demo(t))
	data, _ := os.ReadFile(files[0])

	finish := slowRequest(t, url, data)
	// Wait (bounded) until the first request holds the only slot.
	for i := 0; i < 100 && srv.Stats().Active == 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	var e map[string]any
	status := post(t, url, "image/png", bytes.NewReader(data), &e)
	if status != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(e["error"]), "busy") {
		t.Errorf("second request while one is active: %d %.200v", status, e)
	}
	// Shut down (as on SIGTERM) while the first is in flight: it still
	// gets its answer.
	cancel()
	time.Sleep(100 * time.Millisecond)
	if s := finish(); s != http.StatusOK {
		t.Errorf("request in flight at shutdown: status %d", s)
	}
	if err := wait(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := client.Get(url + "/healthz"); err == nil {
		t.Errorf("server still answers after shutdown")
	}
}

// A body that does not arrive within the time per request gets 408.
func TestServeSlowBodyTimesOut(t *testing.T) {
	lim := serve.DefaultLimits()
	lim.Timeout = 300 * time.Millisecond
	url, _, _, _, _ := server(t, lim)
	data, _ := os.ReadFile(testrun.Images(t, testrun.Demo(t))[0])
	finish := slowRequest(t, url, data)
	time.Sleep(time.Second)
	if status := finish(); status != http.StatusRequestTimeout {
		t.Errorf("slow body: status %d, want 408", status)
	}
}
