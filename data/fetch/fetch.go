package fetch

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Options tune a download. The zero value is usable.
type Options struct {
	// Client sends the requests; nil means a client with no overall timeout
	// (assets are gigabytes) that follows redirects.
	Client *http.Client
	// Retries is how many times a cut transfer is resumed before giving up;
	// 0 means 5.
	Retries int
	// RetryWait is the pause before the first retry, doubled each time;
	// 0 means one second.
	RetryWait time.Duration
	// AllowUnverified accepts an asset that has no published checksum: its
	// size is still checked and the SHA-256 computed is reported.
	AllowUnverified bool
	// Progress, when set, is called with bytes done and total (total is 0
	// when unknown) as the download goes.
	Progress func(done, total int)
}

// Result says what Download did.
type Result struct {
	Path     string // the final file
	Size     int64  // its size in bytes
	SHA256   string // its SHA-256, hex
	MD5      string // its MD5, hex
	Verified string // "sha256", "md5" or "size only"
	Resumed  bool   // the transfer continued an earlier .part file or a cut connection
	Existed  bool   // the file was already there and matched; nothing was downloaded
}

// ErrChecksum is wrapped by errors from a download whose size or hash does
// not match the manifest.
var ErrChecksum = errors.New("checksum mismatch")

// Download fetches asset a into dir/a.File. It resumes from dir/a.File.part
// if present, verifies the result and renames it into place. An existing
// final file is verified instead of downloaded again.
func Download(ctx context.Context, a Asset, dir string, opt Options) (*Result, error) {
	if !a.Verifiable() && !opt.AllowUnverified {
		return nil, fmt.Errorf("asset %s has no published SHA-256 or MD5, so the download cannot be verified; "+
			"pass --sha256 HEX to pin one, or --allow-unverified to accept it after a size check", a.Name)
	}
	if opt.Retries == 0 {
		opt.Retries = 5
	}
	if opt.RetryWait == 0 {
		opt.RetryWait = time.Second
	}
	if opt.Client == nil {
		opt.Client = &http.Client{}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	dest := filepath.Join(dir, a.File)
	if _, err := os.Stat(dest); err == nil {
		res, err := verify(a, dest)
		if err != nil {
			return nil, fmt.Errorf("%s already exists but %w; delete it and fetch again", dest, err)
		}
		res.Path, res.Existed = dest, true
		return res, nil
	}
	part := dest + ".part"
	resumed, err := transfer(ctx, a, part, opt)
	if err != nil {
		return nil, err
	}
	res, err := verify(a, part)
	if err != nil {
		os.Remove(part)
		return nil, fmt.Errorf("download %s from %s: %w; the partial file was removed, fetch again", a.Name, a.URL, err)
	}
	if err := os.Rename(part, dest); err != nil {
		return nil, fmt.Errorf("rename %s to %s: %w", part, dest, err)
	}
	res.Path, res.Resumed = dest, resumed
	return res, nil
}

// transfer fills part with the whole body of a.URL, resuming as needed. It
// reports whether any bytes came from an earlier attempt.
func transfer(ctx context.Context, a Asset, part string, opt Options) (bool, error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", part, err)
	}
	defer f.Close()
	resumed := false
	wait := opt.RetryWait
	var lastErr error
	for attempt := 0; attempt <= opt.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return resumed, ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		off, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return resumed, fmt.Errorf("seek %s: %w", part, err)
		}
		if a.Size > 0 && off > a.Size {
			if err := truncate(f); err != nil {
				return resumed, fmt.Errorf("truncate %s: %w", part, err)
			}
			off = 0
		}
		if a.Size > 0 && off == a.Size {
			return resumed, syncFile(f, part)
		}
		done, retry, continued, err := fetchOnce(ctx, a, f, off, opt)
		resumed = resumed || continued
		if err == nil && done {
			return resumed, syncFile(f, part)
		}
		if err != nil && !retry {
			return resumed, err
		}
		lastErr = err
	}
	return resumed, fmt.Errorf("download %s from %s: gave up after %d retries: %w; run the same command again to resume from %s",
		a.Name, a.URL, opt.Retries, lastErr, part)
}

func syncFile(f *os.File, path string) error {
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func truncate(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// fetchOnce sends one request for the bytes from off on and appends them to
// f. done is true when the body was read to its end; retry says whether a
// failure is worth another attempt; continued says whether the server
// honoured the Range request, so earlier bytes were kept.
func fetchOnce(ctx context.Context, a Asset, f *os.File, off int64, opt Options) (done, retry, continued bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return false, false, continued, fmt.Errorf("download %s: bad URL %q: %w", a.Name, a.URL, err)
	}
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := opt.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, false, continued, ctx.Err()
		}
		return false, true, continued, fmt.Errorf("GET %s: %w", a.URL, err)
	}
	defer resp.Body.Close()
	total := a.Size
	switch {
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != off {
			// The server sent a range we did not ask for: start over.
			if err := truncate(f); err != nil {
				return false, false, continued, fmt.Errorf("truncate %s: %w", f.Name(), err)
			}
			return false, true, continued, fmt.Errorf("GET %s: unexpected Content-Range %q for offset %d", a.URL, resp.Header.Get("Content-Range"), off)
		}
		if total == 0 && size > 0 {
			total = size
		}
		continued = true
	case resp.StatusCode == http.StatusOK:
		if off > 0 {
			// No range support: the body is the whole file.
			if err := truncate(f); err != nil {
				return false, false, continued, fmt.Errorf("truncate %s: %w", f.Name(), err)
			}
			off = 0
		}
		if total == 0 && resp.ContentLength > 0 {
			total = resp.ContentLength
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && off > 0:
		// Either the .part file is already complete or it is longer than the
		// file on the server; verification decides, so report done when the
		// sizes agree and start over otherwise.
		if _, size, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && size == off {
			return true, false, true, nil
		}
		if err := truncate(f); err != nil {
			return false, false, continued, fmt.Errorf("truncate %s: %w", f.Name(), err)
		}
		return false, true, continued, fmt.Errorf("GET %s: range not satisfiable at offset %d", a.URL, off)
	default:
		retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return false, retry, continued, fmt.Errorf("GET %s: %s", a.URL, resp.Status)
	}
	w := &progressWriter{w: f, done: off, total: total, fn: opt.Progress}
	w.report()
	if _, err := io.Copy(w, resp.Body); err != nil {
		if ctx.Err() != nil {
			return false, false, continued, ctx.Err()
		}
		return false, true, continued, fmt.Errorf("GET %s: transfer cut at byte %d: %w", a.URL, w.done, err)
	}
	return true, false, continued, nil
}

// parseContentRange reads "bytes START-END/SIZE" (SIZE may be "*") or
// "bytes */SIZE".
func parseContentRange(s string) (start, size int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, sz, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	size = -1
	if sz != "*" {
		n, err := strconv.ParseInt(sz, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		size = n
	}
	if rng == "*" {
		return -1, size, true
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return n, size, true
}

type progressWriter struct {
	w     io.Writer
	done  int64
	total int64
	fn    func(done, total int)
	last  time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if time.Since(p.last) > 100*time.Millisecond {
		p.report()
	}
	return n, err
}

func (p *progressWriter) report() {
	p.last = time.Now()
	if p.fn != nil {
		p.fn(int(p.done), int(p.total))
	}
}

// verify checks the file at path against the asset's size and hashes.
func verify(a Asset, path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	hs, hm := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(hs, hm), f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	res := &Result{Size: n, SHA256: hex.EncodeToString(hs.Sum(nil)), MD5: hex.EncodeToString(hm.Sum(nil)), Verified: "size only"}
	if a.Size > 0 && n != a.Size {
		return nil, fmt.Errorf("%w: size is %d bytes, the manifest says %d", ErrChecksum, n, a.Size)
	}
	if a.SHA256 != "" {
		if res.SHA256 != a.SHA256 {
			return nil, fmt.Errorf("%w: SHA-256 is %s, the manifest says %s", ErrChecksum, res.SHA256, a.SHA256)
		}
		res.Verified = "sha256"
	}
	if a.MD5 != "" {
		if res.MD5 != a.MD5 {
			return nil, fmt.Errorf("%w: MD5 is %s, the manifest says %s", ErrChecksum, res.MD5, a.MD5)
		}
		if res.Verified == "size only" {
			res.Verified = "md5"
		}
	}
	return res, nil
}
