// Command bench-replay generates the benchmark's recorded cluster (gen) and serves it
// as a Kubernetes API server would (serve): paginated LISTs of nodes and pods, then
// WATCH streams that replay the recorded burst of events, then bookmarks, held open.
// Every client gets exactly the same bytes, so firebreak and the client-go baseline
// are measured on identical input. Loopback, plain HTTP, no auth.
//
//	bench-replay gen   -dir DIR -nodes 5000 -pods 150000 -events 50000 -seed 1
//	bench-replay serve -dir DIR -addr 127.0.0.1:0 -port-file F
//
// The watch burst is held back until the client POSTs /bench/go (it does once its
// informers have synced), so initial-sync and event-processing costs are measured
// apart. Started with -gate=false, watches stream at once.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func intstrPort(p int32) intstr.IntOrString { return intstr.FromInt32(p) }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench-replay gen|serve [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "gen":
		fs := flag.NewFlagSet("gen", flag.ExitOnError)
		dir := fs.String("dir", "", "output folder")
		nodes := fs.Int("nodes", 5000, "nodes")
		pods := fs.Int("pods", 150000, "pods")
		events := fs.Int("events", 50000, "watch events in the burst")
		seed := fs.Int64("seed", 1, "random seed")
		fs.Parse(os.Args[2:])
		start := time.Now()
		if err := generate(*dir, *seed, *nodes, *pods, *events); err != nil {
			log.Fatalf("gen: %v", err)
		}
		log.Printf("generated %s in %s", *dir, time.Since(start).Round(time.Millisecond))
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		dir := fs.String("dir", "", "data folder (from gen)")
		addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
		portFile := fs.String("port-file", "", "write the chosen port here once listening")
		gate := fs.Bool("gate", true, "hold watch bursts until POST /bench/go")
		fs.Parse(os.Args[2:])
		if err := serve(*dir, *addr, *portFile, *gate); err != nil {
			log.Fatalf("serve: %v", err)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: bench-replay gen|serve [flags]")
		os.Exit(2)
	}
}

// lines is a memory-mapped JSON-lines file and where each line starts.
type lines struct {
	data []byte
	off  []int   // start of line i; off[len] = len(data)
	rv   []int64 // events: metadata.resourceVersion of line i
}

func (l *lines) n() int { return len(l.off) - 1 }

// line i without its '\n'.
func (l *lines) line(i int) []byte { return l.data[l.off[i] : l.off[i+1]-1] }

// lineNL i with its '\n'.
func (l *lines) lineNL(i int) []byte { return l.data[l.off[i]:l.off[i+1]] }

var rvKey = []byte(`"resourceVersion":"`)

func load(path string, events bool) (*lines, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	l := &lines{}
	if st.Size() > 0 {
		l.data, err = syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			return nil, err
		}
	}
	for i := 0; i < len(l.data); {
		l.off = append(l.off, i)
		j := bytes.IndexByte(l.data[i:], '\n')
		if j < 0 {
			return nil, fmt.Errorf("%s: last line has no newline", path)
		}
		if events {
			k := bytes.Index(l.data[i:i+j], rvKey)
			if k < 0 {
				return nil, fmt.Errorf("%s: line %d has no resourceVersion", path, len(l.off))
			}
			s := l.data[i+k+len(rvKey):]
			e := bytes.IndexByte(s, '"')
			rv, err := strconv.ParseInt(string(s[:e]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d: %v", path, len(l.off), err)
			}
			l.rv = append(l.rv, rv)
		}
		i += j + 1
	}
	l.off = append(l.off, len(l.data))
	return l, nil
}

type apiResource struct {
	pages  atomic.Int64 // LIST responses served since the last complete list
	kind   string       // "Node"
	items  *lines
	events *lines
}

type server struct {
	meta    Meta
	res     map[string]*apiResource // "/api/v1/nodes" -> ...
	gate    chan struct{}
	goOnce  sync.Once
	reqs    atomic.Int64
	goStart time.Time
}

func serve(dir, addr, portFile string, gate bool) error {
	s := &server{res: map[string]*apiResource{}, gate: make(chan struct{})}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &s.meta); err != nil {
		return err
	}
	for _, r := range []struct{ path, kind, items, events string }{
		{"/api/v1/nodes", "Node", "nodes.jsonl", "node-events.jsonl"},
		{"/api/v1/pods", "Pod", "pods.jsonl", "pod-events.jsonl"},
	} {
		items, err := load(filepath.Join(dir, r.items), false)
		if err != nil {
			return err
		}
		evs, err := load(filepath.Join(dir, r.events), true)
		if err != nil {
			return err
		}
		s.res[r.path] = &apiResource{kind: r.kind, items: items, events: evs}
	}
	if !gate {
		close(s.gate)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	log.Printf("serving %s on 127.0.0.1:%d (nodes=%d pods=%d events=%d+%d)", dir, port,
		s.meta.Nodes, s.meta.Pods, s.meta.NodeEvents, s.meta.PodEvents)
	if portFile != "" {
		if err := os.WriteFile(portFile+".tmp", []byte(strconv.Itoa(port)), 0o644); err != nil {
			return err
		}
		if err := os.Rename(portFile+".tmp", portFile); err != nil {
			return err
		}
	}
	return http.Serve(ln, s)
}

func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`+"\n",
		msg, reason, code)
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.reqs.Add(1)
	switch {
	case r.URL.Path == "/bench/go" && r.Method == http.MethodPost:
		s.goOnce.Do(func() {
			s.goStart = time.Now()
			log.Printf("burst released by %s", r.UserAgent())
			close(s.gate)
		})
		w.WriteHeader(http.StatusNoContent)
		return
	case r.URL.Path == "/bench/meta":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.meta)
		return
	case r.URL.Path == "/version":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"major":"1","minor":"37","gitVersion":"v1.37.1","platform":"linux/amd64"}`)
		return
	case r.URL.Path == "/api":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`)
		return
	case r.URL.Path == "/apis":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`)
		return
	case r.Method == http.MethodPost:
		// events and anything else written: accepted and dropped
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, "{}")
		return
	}
	res := s.res[r.URL.Path]
	if res == nil || r.Method != http.MethodGet {
		writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
		return
	}
	q := r.URL.Query()
	if q.Get("watch") == "1" || q.Get("watch") == "true" {
		if q.Get("sendInitialEvents") == "true" {
			log.Printf("refusing a WatchList request (sendInitialEvents=true) for %s", r.URL.Path)
			writeStatus(w, http.StatusBadRequest, "BadRequest", "sendInitialEvents is not supported by this server")
			return
		}
		s.watch(w, r, res, q.Get("resourceVersion"), q.Get("timeoutSeconds"))
		return
	}
	s.list(w, r, res, q.Get("limit"), q.Get("continue"))
}

// list answers one LIST page (limit/continue) or, without limit, the whole list.
func (s *server) list(w http.ResponseWriter, r *http.Request, res *apiResource, limitS, cont string) {
	n := res.items.n()
	start, limit := 0, 0
	if limitS != "" {
		v, err := strconv.Atoi(limitS)
		if err != nil || v < 0 {
			writeStatus(w, http.StatusBadRequest, "BadRequest", "invalid limit")
			return
		}
		limit = v
	}
	if cont != "" {
		v, err := strconv.Atoi(cont)
		if err != nil || v < 0 || v > n {
			writeStatus(w, http.StatusGone, "Expired", "the provided continue parameter is too old")
			return
		}
		start = v
	}
	end := n
	if limit > 0 && start+limit < n {
		end = start + limit
	}
	w.Header().Set("Content-Type", "application/json")
	var meta string
	if end < n {
		meta = fmt.Sprintf(`{"resourceVersion":%q,"continue":"%d","remainingItemCount":%d}`, s.meta.ListRV, end, n-end)
	} else {
		meta = fmt.Sprintf(`{"resourceVersion":%q}`, s.meta.ListRV)
	}
	bw := &chunkWriter{w: w}
	bw.write([]byte(fmt.Sprintf(`{"kind":"%sList","apiVersion":"v1","metadata":%s,"items":[`, res.kind, meta)))
	for i := start; i < end; i++ {
		if i > start {
			bw.write([]byte{','})
		}
		bw.write(res.items.line(i))
	}
	bw.write([]byte("]}\n"))
	bw.flush()
	pages := res.pages.Add(1)
	if end == n && bw.err == nil {
		res.pages.Store(0)
		log.Printf("LIST %s complete: %d items in %d page(s) (limit=%q)", r.URL.Path, n, pages, limitS)
	}
}

// chunkWriter batches writes into 256 KiB chunks.
type chunkWriter struct {
	w   http.ResponseWriter
	buf []byte
	err error
}

func (c *chunkWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	if len(c.buf)+len(b) > 256<<10 {
		c.flush()
	}
	if len(b) > 256<<10 {
		_, c.err = c.w.Write(b)
		return
	}
	c.buf = append(c.buf, b...)
}

func (c *chunkWriter) flush() {
	if c.err == nil && len(c.buf) > 0 {
		_, c.err = c.w.Write(c.buf)
	}
	c.buf = c.buf[:0]
}

// watch streams the recorded events newer than rv (after the gate opens), then a
// bookmark every second until timeoutSeconds or the client goes away.
func (s *server) watch(w http.ResponseWriter, r *http.Request, res *apiResource, rvS, timeoutS string) {
	from, _ := strconv.ParseInt(rvS, 10, 64)
	timeout := 30 * time.Minute
	if t, err := strconv.Atoi(timeoutS); err == nil && t > 0 {
		timeout = time.Duration(t) * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if fl != nil {
		fl.Flush()
	}
	select {
	case <-s.gate:
	case <-ctx.Done():
		return
	}
	last := from
	ev := res.events
	bw := &chunkWriter{w: w}
	sent := 0
	start := time.Now()
	for i := 0; i < ev.n(); i++ {
		if ev.rv[i] <= from {
			continue
		}
		bw.write(ev.lineNL(i))
		last = ev.rv[i]
		sent++
		if sent%16 == 0 {
			bw.flush()
			if fl != nil {
				fl.Flush()
			}
		}
	}
	bw.flush()
	if fl != nil {
		fl.Flush()
	}
	if bw.err != nil {
		return
	}
	if sent > 0 {
		log.Printf("watch %s from rv %d: %d events sent in %s", r.URL.Path, from, sent, time.Since(start).Round(time.Millisecond))
	}
	if last < mustAtoi64(s.meta.ListRV) {
		last = mustAtoi64(s.meta.ListRV)
	}
	bookmark := []byte(fmt.Sprintf(`{"type":"BOOKMARK","object":{"kind":%q,"apiVersion":"v1","metadata":{"resourceVersion":"%d","creationTimestamp":null}}}`+"\n", res.kind, last))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := w.Write(bookmark); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
	}
}

func mustAtoi64(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}
