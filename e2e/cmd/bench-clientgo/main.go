// Command bench-clientgo is the baseline of the scale benchmark (bench/run.sh,
// docs/benchmarks.md): a controller written the usual way, with client-go shared
// informers on Nodes and Pods (full objects in the cache, no transform), event
// handlers that enqueue keys into a rate-limited workqueue, and two workers that
// look each key up in the lister. It measures what fb_bench measures, against the
// same replay server, and prints one JSON object on stdout:
//
//   - CPU seconds (user+sys, getrusage) and wall time from start until both
//     handler registrations have synced (the handlers saw the whole initial list);
//   - after POST /bench/go, the time until the expected number of watch events
//     reached the handlers (events per second, CPU spent on them);
//   - handler -> worker latency of the burst's keys (the workqueue's analogue of
//     firebreak's decision latency);
//   - peak RSS (VmHWM) and, for reference, the live heap after a forced GC.
//
// Usage: bench-clientgo -server http://127.0.0.1:PORT -expect-events N
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

func cpuSeconds() (user, sys float64, maxrssKB int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6,
		float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6, ru.Maxrss
}

func procStatusKB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			fs := strings.Fields(line[len(field)+1:])
			if len(fs) > 0 {
				v, _ := strconv.ParseInt(fs[0], 10, 64)
				return v
			}
		}
	}
	return -1
}

func pct(v []int64, p float64) int64 {
	if len(v) == 0 {
		return 0
	}
	i := int(p/100*float64(len(v)) + 0.999999)
	if i < 1 {
		i = 1
	}
	if i > len(v) {
		i = len(v)
	}
	return v[i-1]
}

func main() {
	start := time.Now()
	server := flag.String("server", "", "API server URL")
	expect := flag.Int64("expect-events", -1, "watch events in the burst")
	settle := flag.Duration("settle", 2*time.Second, "wait after the burst before measuring")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	strip := flag.Bool("strip-managed-fields", false,
		"variant: drop metadata.managedFields in an informer transform (a common tuning)")
	flag.Parse()
	if *server == "" || *expect < 0 {
		flag.Usage()
		os.Exit(2)
	}
	// The same LIST+WATCH as firebreak's reflector: no streaming (WatchList) requests.
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")

	cfg := &rest.Config{Host: *server, QPS: -1, UserAgent: "bench-clientgo"}
	cfg.ContentType, cfg.AcceptContentTypes = "application/json", "application/json"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	var opts []informers.SharedInformerOption
	if *strip {
		opts = append(opts, informers.WithTransform(func(obj any) (any, error) {
			if m, err := meta.Accessor(obj); err == nil {
				m.SetManagedFields(nil)
			}
			return obj, nil
		}))
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, opts...)
	nodeInf := factory.Core().V1().Nodes()
	podInf := factory.Core().V1().Pods()
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())

	var measuring atomic.Bool
	var burstEvents, burstLast atomic.Int64
	var mu sync.Mutex
	enqueued := map[string]time.Time{} // burst keys waiting for a worker
	var latency []int64

	enqueue := func(prefix string, obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err != nil {
			return
		}
		key = prefix + key
		if measuring.Load() {
			now := time.Now()
			mu.Lock()
			if _, ok := enqueued[key]; !ok {
				enqueued[key] = now
			}
			mu.Unlock()
			burstEvents.Add(1)
			burstLast.Store(int64(time.Since(start)))
		}
		queue.Add(key)
	}
	handler := func(prefix string) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { enqueue(prefix, obj) },
			UpdateFunc: func(_, obj any) { enqueue(prefix, obj) },
			DeleteFunc: func(obj any) { enqueue(prefix, obj) },
		}
	}
	nreg, err := nodeInf.Informer().AddEventHandler(handler("node/"))
	if err != nil {
		log.Fatal(err)
	}
	preg, err := podInf.Informer().AddEventHandler(handler("pod/"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())

	// Workers: what a reconcile loop starts with, a lister lookup of the key.
	var found atomic.Int64
	worker := func() {
		for {
			key, shutdown := queue.Get()
			if shutdown {
				return
			}
			var ok bool
			if k, isNode := strings.CutPrefix(key, "node/"); isNode {
				_, err := nodeInf.Lister().Get(k)
				ok = err == nil
			} else {
				k = strings.TrimPrefix(key, "pod/")
				ns, name, _ := cache.SplitMetaNamespaceKey(k)
				var p *corev1.Pod
				p, err := podInf.Lister().Pods(ns).Get(name)
				ok = err == nil && p != nil
			}
			if ok {
				found.Add(1)
			}
			if measuring.Load() {
				now := time.Now()
				mu.Lock()
				if t, ok := enqueued[key]; ok {
					latency = append(latency, now.Sub(t).Microseconds())
					delete(enqueued, key)
				}
				mu.Unlock()
			}
			queue.Forget(key)
			queue.Done(key)
		}
	}
	syncCtx, syncCancel := context.WithTimeout(ctx, *timeout)
	if !cache.WaitForCacheSync(syncCtx.Done(), nreg.HasSynced, preg.HasSynced) {
		log.Fatal("informers did not sync")
	}
	syncCancel()
	syncWall := time.Since(start)
	su, ss, _ := cpuSeconds()
	rssSync := procStatusKB("VmRSS")
	for i := 0; i < 2; i++ {
		go worker()
	}
	// Let the workers drain the initial keys before the burst, as firebreak's first tick does.
	for queue.Len() > 0 {
		time.Sleep(time.Millisecond)
	}
	measuring.Store(true)

	gu, gs, _ := cpuSeconds()
	goAt := time.Since(start)
	resp, err := http.Post(strings.TrimSuffix(*server, "/")+"/bench/go", "application/json", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(*timeout)
	for burstEvents.Load() < *expect && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	bu, bs, _ := cpuSeconds()
	got := burstEvents.Load()
	last := time.Duration(burstLast.Load())
	time.Sleep(*settle)
	eu, es, maxrss := cpuSeconds()
	hwm, rssEnd := procStatusKB("VmHWM"), procStatusKB("VmRSS")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	mu.Lock()
	sort.Slice(latency, func(i, j int) bool { return latency[i] < latency[j] })
	lat := latency
	mu.Unlock()
	burstS := (last - goAt).Seconds()
	eps := 0.0
	if burstS > 0 {
		eps = float64(got) / burstS
	}
	out := map[string]any{
		"side": "client-go", "nodes": len(nodeInf.Informer().GetStore().ListKeys()),
		"pods":        len(podInf.Informer().GetStore().ListKeys()),
		"sync_wall_s": syncWall.Seconds(), "sync_cpu_s": su + ss, "sync_user_s": su, "sync_sys_s": ss,
		"rss_at_sync_kb": rssSync, "burst_events": got, "burst_expected": *expect,
		"burst_wall_s": burstS, "events_per_s": eps, "burst_cpu_s": (bu + bs) - (gu + gs),
		"hwm_kb": hwm, "maxrss_kb": maxrss, "rss_end_kb": rssEnd,
		"heap_live_after_gc_kb": ms.HeapAlloc / 1024, "go_sys_kb": ms.Sys / 1024,
		"lat_n": len(lat), "lat_p50_us": pct(lat, 50), "lat_p99_us": pct(lat, 99), "lat_max_us": pct(lat, 100),
		"total_cpu_s": eu + es, "gomaxprocs": runtime.GOMAXPROCS(0), "lister_hits": found.Load(),
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	queue.ShutDown()
	if got < *expect {
		os.Exit(1)
	}
}
