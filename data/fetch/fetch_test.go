package fetch

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	thirdparty "tagimp/third_party"
)

// serveOpts shape a test server's misbehaviour.
type serveOpts struct {
	cutAfter int
	cutFirst int
	noRange  bool
}

// server serves content at /asset on 127.0.0.1 and records the Range header
// of each request. cutAfter > 0 makes the first cutFirst requests stop after
// that many body bytes, as a dropped connection does.
type server struct {
	serveOpts
	content []byte

	mu     sync.Mutex
	ranges []string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.ranges)
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	s.mu.Unlock()
	if r.URL.Path != "/asset" {
		http.NotFound(w, r)
		return
	}
	if s.noRange {
		r.Header.Del("Range")
	}
	if n < s.cutFirst && s.cutAfter > 0 {
		start := 0
		if rg := r.Header.Get("Range"); rg != "" {
			v, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			start = v
			w.Header().Set("Content-Range", "bytes "+strconv.Itoa(v)+"-"+strconv.Itoa(len(s.content)-1)+"/"+strconv.Itoa(len(s.content)))
			w.Header().Set("Content-Length", strconv.Itoa(len(s.content)-v))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(s.content)))
			w.WriteHeader(http.StatusOK)
		}
		w.Write(s.content[start : start+s.cutAfter])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	http.ServeContent(w, r, "asset", time.Time{}, bytes.NewReader(s.content))
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

func payload(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(1)).Read(b)
	return b
}

func sums(b []byte) (string, string) {
	s := sha256.Sum256(b)
	m := md5.Sum(b)
	return hex.EncodeToString(s[:]), hex.EncodeToString(m[:])
}

func start(t *testing.T, s *server) string {
	t.Helper()
	ts := httptest.NewServer(s) // listens on 127.0.0.1 only
	t.Cleanup(ts.Close)
	return ts.URL + "/asset"
}

func quiet() Options { return Options{RetryWait: time.Millisecond} }

func TestDownload(t *testing.T) {
	content := payload(300_000)
	sha, md := sums(content)
	tests := []struct {
		name        string
		srv         serveOpts
		asset       Asset
		partPrefix  int // bytes of content already in FILE.part
		opt         Options
		wantErr     error
		wantErrText string
		wantVia     string
		wantResumed bool
		wantRanges  []string
	}{
		{name: "whole file, sha256", asset: Asset{Size: int64(len(content)), SHA256: sha}, wantVia: "sha256", wantRanges: []string{""}},
		{name: "md5 only", asset: Asset{Size: int64(len(content)), MD5: md}, wantVia: "md5", wantRanges: []string{""}},
		{name: "cut connection resumes with Range", srv: serveOpts{cutAfter: 100_000, cutFirst: 1},
			asset: Asset{Size: int64(len(content)), SHA256: sha}, wantVia: "sha256", wantResumed: true,
			wantRanges: []string{"", "bytes=100000-"}},
		{name: "cut twice", srv: serveOpts{cutAfter: 50_000, cutFirst: 2},
			asset: Asset{Size: int64(len(content)), SHA256: sha}, wantVia: "sha256", wantResumed: true,
			wantRanges: []string{"", "bytes=50000-", "bytes=100000-"}},
		{name: "earlier .part file is continued", partPrefix: 123_456,
			asset: Asset{Size: int64(len(content)), SHA256: sha}, wantVia: "sha256", wantResumed: true,
			wantRanges: []string{"bytes=123456-"}},
		{name: "server without Range support starts over", srv: serveOpts{noRange: true}, partPrefix: 1000,
			asset: Asset{Size: int64(len(content)), SHA256: sha}, wantVia: "sha256", wantResumed: false,
			wantRanges: []string{"bytes=1000-"}},
		{name: "complete .part file is only verified", partPrefix: len(content),
			asset: Asset{Size: int64(len(content)), SHA256: sha}, wantVia: "sha256", wantRanges: nil},
		{name: "size only when allowed", asset: Asset{Size: int64(len(content))}, opt: Options{AllowUnverified: true},
			wantVia: "size only", wantRanges: []string{""}},
		{name: "bad sha256", asset: Asset{Size: int64(len(content)), SHA256: strings.Repeat("0", 64)},
			wantErr: ErrChecksum, wantRanges: []string{""}},
		{name: "bad md5", asset: Asset{Size: int64(len(content)), MD5: strings.Repeat("a", 32)},
			wantErr: ErrChecksum, wantRanges: []string{""}},
		{name: "wrong size", asset: Asset{Size: int64(len(content)) - 1, SHA256: sha},
			wantErr: ErrChecksum, wantRanges: []string{""}},
		{name: "no checksum refused before downloading", asset: Asset{Size: int64(len(content))},
			wantErrText: "--allow-unverified", wantRanges: nil},
		{name: "cut more often than retries", srv: serveOpts{cutAfter: 10, cutFirst: 100}, opt: Options{Retries: 2},
			asset: Asset{Size: int64(len(content)), SHA256: sha}, wantErrText: "gave up after 2 retries",
			wantRanges: []string{"", "bytes=10-", "bytes=20-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &server{serveOpts: tc.srv, content: content}
			url := start(t, srv)
			dir := t.TempDir()
			a := tc.asset
			a.Name, a.File, a.URL = "thing", "thing.bin", url
			dest := filepath.Join(dir, a.File)
			if tc.partPrefix > 0 {
				if err := os.WriteFile(dest+".part", content[:tc.partPrefix], 0o644); err != nil {
					t.Fatal(err)
				}
			}
			opt := tc.opt
			opt.RetryWait = time.Millisecond
			var progressCalls int
			opt.Progress = func(done, total int) { progressCalls++ }
			res, err := Download(context.Background(), a, dir, opt)
			if got := srv.requests(); strings.Join(got, "|") != strings.Join(tc.wantRanges, "|") {
				t.Errorf("Range headers = %q, want %q", got, tc.wantRanges)
			}
			if tc.wantErr != nil || tc.wantErrText != "" {
				if err == nil {
					t.Fatalf("Download succeeded, want error")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("error %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErrText) {
					t.Errorf("error %q does not mention %q", err, tc.wantErrText)
				}
				if _, err := os.Stat(dest); err == nil {
					t.Errorf("%s exists after a failed download", dest)
				}
				if errors.Is(err, ErrChecksum) {
					if _, err := os.Stat(dest + ".part"); err == nil {
						t.Errorf(".part file kept after a checksum mismatch")
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(dest)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, content) {
				t.Fatalf("downloaded %d bytes differ from the served %d", len(got), len(content))
			}
			if _, err := os.Stat(dest + ".part"); err == nil {
				t.Errorf(".part file left behind")
			}
			if res.Verified != tc.wantVia || res.Resumed != tc.wantResumed || res.SHA256 != sha || res.Size != int64(len(content)) {
				t.Errorf("result %+v, want verified %q resumed %v", res, tc.wantVia, tc.wantResumed)
			}
			if len(tc.wantRanges) > 0 && progressCalls == 0 {
				t.Errorf("progress never reported")
			}
		})
	}
}

func TestExistingFile(t *testing.T) {
	content := payload(5000)
	sha, _ := sums(content)
	srv := &server{content: content}
	url := start(t, srv)
	a := Asset{Name: "thing", File: "thing.bin", URL: url, Size: int64(len(content)), SHA256: sha}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, a.File), content, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Download(context.Background(), a, dir, quiet())
	if err != nil || !res.Existed {
		t.Fatalf("existing good file: %+v, %v", res, err)
	}

	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, a.File), content[:10], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Download(context.Background(), a, bad, quiet()); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("existing bad file: %v, want checksum error telling to delete it", err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests sent for files already present", n)
	}
}

func TestHTTPError(t *testing.T) {
	srv := &server{content: payload(10)}
	url := start(t, srv)
	a := Asset{Name: "thing", File: "thing.bin", URL: strings.TrimSuffix(url, "/asset") + "/missing", MD5: strings.Repeat("0", 32)}
	dir := t.TempDir()
	_, err := Download(context.Background(), a, dir, quiet())
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("error %v, want 404", err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests for a 404, want 1 (no retries)", n)
	}
}

func TestParseManifest(t *testing.T) {
	good := `{"assets":[{"name":"a","file":"a.bin","url":"http://x/a","size":3,"sha256":"` + strings.Repeat("ab", 32) + `"}]}`
	tests := []struct {
		name, json, wantErr string
	}{
		{"good", good, ""},
		{"duplicate", `{"assets":[{"name":"a","file":"a","url":"u"},{"name":"a","file":"b","url":"u"}]}`, "twice"},
		{"short sha", `{"assets":[{"name":"a","file":"a","url":"u","sha256":"abc"}]}`, "hex digits"},
		{"upper md5", `{"assets":[{"name":"a","file":"a","url":"u","md5":"` + strings.Repeat("AB", 16) + `"}]}`, "lower-case"},
		{"path in file", `{"assets":[{"name":"a","file":"../a","url":"u"}]}`, "plain file name"},
		{"missing url", `{"assets":[{"name":"a","file":"a"}]}`, "required"},
		{"unknown field", `{"assets":[{"name":"a","file":"a","url":"u","sha1":"x"}]}`, "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tc.json))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := m.Find("a"); err != nil {
					t.Fatal(err)
				}
				if _, err := m.Find("b"); err == nil || !strings.Contains(err.Error(), "known assets: a") {
					t.Fatalf("Find(b) = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// The shipped manifest parses and names every asset the project needs.
func TestShippedManifest(t *testing.T) {
	m, err := ParseManifest(thirdparty.AssetsJSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"vgg16-torchvision", "vgg16-keras", "coco2014-train-images", "coco2014-val-images",
		"coco2014-annotations", "coco2017-val-images", "coco2017-annotations", "word2vec-googlenews"} {
		a, err := m.Find(name)
		if err != nil {
			t.Fatal(err)
		}
		if a.Size <= 0 || a.License == "" {
			t.Errorf("%s: size %d, license %q", name, a.Size, a.License)
		}
	}
	a, _ := m.Find("vgg16-torchvision")
	if !strings.HasPrefix(a.SHA256, "397923af") {
		t.Errorf("torchvision VGG16 SHA-256 %s does not start with the 8 hex digits in its file name", a.SHA256)
	}
}
