package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// nfcPrefix differs from the simulator's own /nfc/ (import only, no Range).
const nfcPrefix = "/nfc-export/"

type event struct {
	Kind    string `json:"kind"` // lease, progress, complete, abort, get
	Lease   string `json:"lease,omitempty"`
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	Vm      string `json:"vm,omitempty"`
	Percent int32  `json:"percent,omitempty"`
	File    string `json:"file,omitempty"`
	Range   string `json:"range,omitempty"`
	Status  int    `json:"status,omitempty"`
	Sent    int64  `json:"sent,omitempty"`
	Dropped bool   `json:"dropped,omitempty"`
	// Milliseconds since the program started, to see downloads overlap.
	StartMs float64  `json:"start_ms,omitempty"`
	EndMs   float64  `json:"end_ms,omitempty"`
	Devices []string `json:"devices,omitempty"`
}

var began = time.Now()

func sinceStart() float64 { return float64(time.Since(began).Microseconds()) / 1000 }

var (
	eventsMu sync.Mutex
	events   = []event{}
)

func record(e event) {
	eventsMu.Lock()
	events = append(events, e)
	eventsMu.Unlock()
}

func serveEvents(w http.ResponseWriter, r *http.Request) {
	eventsMu.Lock()
	out, _ := json.Marshal(events)
	eventsMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// serveNFC serves one file of a ready lease, honouring a single
// "bytes=start-[end]" range, with the configured faults.
func serveNFC(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, nfcPrefix), "/")
	if len(parts) != 2 || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	v, ok := leases.Load(parts[0])
	if !ok {
		http.NotFound(w, r)
		return
	}
	l := v.(*lease)
	name := parts[1]
	ev := event{Kind: "get", Lease: parts[0], File: name, Range: r.Header.Get("Range"), StartMs: sinceStart()}
	defer func() {
		ev.EndMs = sinceStart()
		record(ev)
	}()
	if l.state() != types.HttpNfcLeaseStateReady {
		ev.Status = http.StatusForbidden
		http.Error(w, "lease is not ready", ev.Status)
		return
	}
	l.mu.Lock()
	sf, ok := l.files[name]
	l.requests[name]++
	first := l.requests[name] == 1
	l.mu.Unlock()
	if !ok {
		ev.Status = http.StatusNotFound
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(sf.path)
	if err != nil {
		ev.Status = http.StatusInternalServerError
		http.Error(w, err.Error(), ev.Status)
		return
	}
	defer f.Close()

	start, end, status := int64(0), sf.size-1, http.StatusOK
	if rng := ev.Range; rng != "" && !cfg.ignoreRange {
		s, e, ok := parseRange(rng, sf.size)
		if !ok {
			ev.Status = http.StatusRequestedRangeNotSatisfiable
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", sf.size))
			w.WriteHeader(ev.Status)
			return
		}
		start, end, status = s, e, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, sf.size))
	}
	ev.Status = status
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Type", "application/octet-stream")
	if !cfg.noLength {
		w.Header().Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	}
	w.WriteHeader(status)

	// stop is the absolute offset after which this response is cut short.
	stop := end + 1
	if cfg.truncate && stop > sf.size/2 {
		stop = sf.size / 2
	}
	if first && cfg.dropAfter > 0 && start+cfg.dropAfter < stop {
		stop = start + cfg.dropAfter
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return
	}
	buf := make([]byte, 256<<10)
	sendStart := time.Now()
	for off := start; off < stop; {
		n := int64(len(buf))
		if stop-off < n {
			n = stop - off
		}
		m, err := io.ReadFull(f, buf[:n])
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return
			}
			off += int64(m)
			ev.Sent += int64(m)
		}
		if err != nil {
			return
		}
		if l.state() != types.HttpNfcLeaseStateReady {
			ev.Dropped = true
			panic(http.ErrAbortHandler)
		}
		if cfg.rate > 0 {
			due := sendStart.Add(time.Duration(float64(ev.Sent) / float64(cfg.rate) * float64(time.Second)))
			time.Sleep(time.Until(due))
		}
	}
	if stop < end+1 {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		time.Sleep(50 * time.Millisecond)
		ev.Dropped = true
		panic(http.ErrAbortHandler)
	}
}

func parseRange(h string, size int64) (int64, int64, bool) {
	spec := strings.TrimPrefix(h, "bytes=")
	if spec == h || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(spec, "-")
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, false
		}
		if e < end {
			end = e
		}
	}
	return start, end, true
}

// serveDisk serves a generated disk file without a lease, for the
// benchmark's curl baseline: same server, TLS and buffer size as serveNFC.
func serveDisk(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/hype/disk/")
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(cfg.dataDir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.CopyBuffer(w, struct{ io.Reader }{f}, make([]byte, 256<<10))
}
