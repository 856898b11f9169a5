package main

// Proc trees (--proc-trees DIR): what firebreak-node (issue 16) reads on a node, written for
// each simulated node as DIR/<node>/proc/{meminfo,uptime,vmstat,pressure/memory} and a
// process a running pod, DIR/<node>/proc/<pid>/{stat,cgroup,fd/}, so that one
// `firebreak-node watch --root DIR/<node>` a node sees what a real node's /proc would say:
//   - every pod's process is in the pod's cgroup (the systemd driver's path, as kubelet
//     makes it) and began when the pod started (/proc/<pid>/stat's starttime);
//   - a pod matching --gpu-selector holds /dev/nvidia0 open (fd/3);
//   - the poison "allocates" as the incident's driver did: from the moment its pod runs,
//     memory no /proc/meminfo category counts grows to 28 GiB at --poison-delay, when the
//     node dies; so does a node whose DIR/<node>/leak file exists (from the file's time,
//     3 GiB a second), with no pod to blame;
//   - a dead node's tree stops changing, as its agent would;
//   - a process firebreak-node's act mode killed (it writes proc/<pid>/killed: the tree is no
//     procfs it could signal, node/io/kill.c) is gone: its pod's container restarts after
//     kubelet's first crash-loop back-off (10 s) with restartCount + 1, on the same node, and a
//     poison starts allocating again from nothing.
// Files are written whole (a temporary file renamed over), as the kernel's are read whole.

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

const (
	kib          = 1
	mib          = 1024 * kib
	gib          = 1024 * mib
	memTotalKB   = 32 * gib
	leakMaxKB    = 28 * gib
	leakFileRate = 3 * gib // a second, for DIR/<node>/leak
	clockTicks   = 100     // USER_HZ
)

type procTrees struct {
	dir     string
	gpuSel  labels.Selector
	boot    time.Time
	restart map[types.UID]time.Time // a killed container's restart (guarded by fakelet.mu)
}

// restartBackoff is kubelet's first crash-loop back-off (pkg/kubelet: initial 10 s).
const restartBackoff = 10 * time.Second

func writeWhole(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// pidOf gives a pod's process a stable pid on its node (1000..60999).
func pidOf(uid string) int {
	h := fnv.New32a()
	h.Write([]byte(uid))
	return 1000 + int(h.Sum32()%60000)
}

// leakKB is how much memory no category counts on n now: the poison's since it ran there,
// and the leak file's since its time.
func (f *fakelet) leakKB(n *node, now time.Time) int64 {
	var kb int64
	f.mu.Lock()
	since := n.poisonSince
	f.mu.Unlock()
	if !since.IsZero() && f.poisonDelay > 0 {
		kb = int64(float64(leakMaxKB) * float64(now.Sub(since)) / float64(f.poisonDelay))
	}
	if st, err := os.Stat(filepath.Join(f.trees.dir, n.name, "leak")); err == nil {
		kb += int64(float64(leakFileRate) * now.Sub(st.ModTime()).Seconds())
	}
	if kb < 0 {
		kb = 0
	}
	if kb > leakMaxKB {
		kb = leakMaxKB
	}
	return kb
}

func meminfo(pods int, leakKB int64) string {
	anon := int64(2*gib + pods*64*mib)
	var accounted int64
	cats := []struct {
		name string
		kb   int64
	}{
		{"Buffers", 100 * mib}, {"Cached", 4 * gib}, {"SwapCached", 0}, {"AnonPages", anon},
		{"Shmem", 50 * mib}, {"KReclaimable", 200 * mib}, {"Slab", 350 * mib},
		{"SReclaimable", 200 * mib}, {"SUnreclaim", 150 * mib}, {"KernelStack", 20 * mib},
		{"PageTables", 40 * mib}, {"SecPageTables", 0}, {"VmallocUsed", 30 * mib},
		{"Percpu", 10 * mib}, {"Zswap", 0}, {"Unaccepted", 0}, {"Balloon", 0}, {"Hugetlb", 0},
	}
	for _, c := range cats {
		switch c.name {
		case "Shmem", "Slab", "SReclaimable": // inside Cached, Slab's parts, inside KReclaimable
		default:
			accounted += c.kb
		}
	}
	free := int64(memTotalKB) - accounted - 150*mib - leakKB
	if free < 64*mib {
		free = 64 * mib
	}
	var b strings.Builder
	// the page cache is mostly reclaimable: available while memory is plentiful, little of it
	// once the node is short (its binaries' pages are what thrashing re-reads)
	avail := free + 2*gib
	if free < 4*gib {
		avail = free + free/8
	}
	fmt.Fprintf(&b, "MemTotal:       %d kB\nMemFree:        %d kB\nMemAvailable:   %d kB\n",
		memTotalKB, free, avail)
	for _, c := range cats {
		if c.name == "Hugetlb" {
			b.WriteString("SwapTotal:             0 kB\nSwapFree:              0 kB\n")
			b.WriteString("HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\n" +
				"HugePages_Surp:        0\nHugepagesize:       2048 kB\n")
		}
		fmt.Fprintf(&b, "%s:%*d kB\n", c.name, 16-len(c.name), c.kb)
	}
	b.WriteString("DirectMap4k:      300000 kB\nDirectMap2M:    33000000 kB\n")
	return b.String()
}

// writeTrees writes every live node's tree (a dead node's stays as it was).
func (f *fakelet) writeTrees(ctx context.Context) {
	now := time.Now()
	byNode := map[string][]*corev1.Pod{}
	for _, obj := range f.podLister.List() {
		p := obj.(*corev1.Pod)
		if p.Spec.NodeName != "" && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
		}
	}
	for _, n := range f.alive() {
		if err := f.writeTree(ctx, n, byNode[n.name], now); err != nil {
			logf("proc tree %s: %v", n.name, err)
		}
	}
}

// killed handles a kill firebreak-node recorded in dir (its proc/<pid>): the process goes, the
// container restarts after the back-off, and a poison's allocation starts again then.
func (f *fakelet) killed(ctx context.Context, n *node, p *corev1.Pod, dir string, now time.Time) {
	_ = os.RemoveAll(dir)
	at := now.Add(restartBackoff)
	f.mu.Lock()
	f.trees.restart[p.UID] = at
	poison := f.poisonSel.Matches(labels.Set(p.Labels))
	if poison && n.poisonPod == p.Namespace+"/"+p.Name {
		n.poisonSince = at
	}
	f.mu.Unlock()
	f.event("firebreak-node killed pod %s/%s's process on node %s: its container restarts in %s", p.Namespace, p.Name, n.name, restartBackoff)
	go func() {
		pods := f.cs.CoreV1().Pods(p.Namespace)
		for i := 0; i < 5; i++ {
			cur, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil || cur.UID != p.UID {
				return
			}
			cur = cur.DeepCopy()
			for j := range cur.Status.ContainerStatuses {
				c := &cur.Status.ContainerStatuses[j]
				c.RestartCount++
				c.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 137, Reason: "Error", FinishedAt: metav1.NewTime(now)}}
			}
			if _, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err == nil {
				return
			}
		}
	}()
}

func (f *fakelet) writeTree(ctx context.Context, n *node, pods []*corev1.Pod, now time.Time) error {
	root := filepath.Join(f.trees.dir, n.name)
	proc := filepath.Join(root, "proc")
	uptime := now.Sub(f.trees.boot).Seconds()
	leak := f.leakKB(n, now)
	psi := 0.0
	if leak > leakMaxKB/2 { // the node thrashes once most of its memory is gone
		psi = 40
	}
	files := map[string]string{
		"meminfo": meminfo(len(pods), leak),
		"uptime":  fmt.Sprintf("%.2f %.2f\n", uptime, uptime*1.5),
		"vmstat": fmt.Sprintf("pgmajfault %d\nworkingset_refault_file %d\npswpin 0\npswpout 0\noom_kill 0\n",
			int64(uptime*10+psi*uptime), int64(uptime*5+psi*uptime*10)),
		"pressure/memory": fmt.Sprintf("some avg10=%.2f avg60=%.2f avg300=0.00 total=%d\n"+
			"full avg10=%.2f avg60=%.2f avg300=0.00 total=%d\n", psi, psi/2, int64(psi*uptime*1e4),
			psi/2, psi/4, int64(psi*uptime*5e3)),
	}
	for name, text := range files {
		if err := writeWhole(filepath.Join(proc, name), []byte(text)); err != nil {
			return err
		}
	}
	want := map[string]bool{}
	for _, p := range pods {
		pid := strconv.Itoa(pidOf(string(p.UID)))
		want[pid] = true
		dir := filepath.Join(proc, pid)
		if _, err := os.Stat(filepath.Join(dir, "killed")); err == nil {
			f.killed(ctx, n, p, dir, now)
		}
		f.mu.Lock()
		restart, restarted := f.trees.restart[p.UID]
		f.mu.Unlock()
		if restarted && now.Before(restart) {
			delete(want, pid) // in its back-off: no process
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "stat")); err == nil {
			continue // a process's files do not change while it lives
		}
		// the container's process starts now, as this tree first shows it (within half a second
		// of the pod turning Running; not the pod's startTime, which the API keeps in whole
		// seconds and so may date the process before an agent that began in that second)
		start := now
		if restarted {
			start = restart
		}
		ticks := int64(start.Sub(f.trees.boot).Seconds() * clockTicks)
		uid := strings.ReplaceAll(string(p.UID), "-", "_")
		cgroup := fmt.Sprintf("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice/cri-containerd-%s.scope\n",
			uid, pid)
		// fields 3..21 (state .. itrealvalue), then starttime: field 22
		stat := fmt.Sprintf("%s (app) S 1 %s %s 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 %d 1000000 100 "+
			"18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n", pid, pid, pid, ticks)
		if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
			return err
		}
		if err := writeWhole(filepath.Join(dir, "cgroup"), []byte(cgroup)); err != nil {
			return err
		}
		_ = os.Symlink("/dev/null", filepath.Join(dir, "fd", "0"))
		if f.trees.gpuSel.Matches(labels.Set(p.Labels)) {
			_ = os.Symlink("/dev/nvidia0", filepath.Join(dir, "fd", "3"))
		}
		// stat last: a process whose stat exists is whole
		if err := writeWhole(filepath.Join(dir, "stat"), []byte(stat)); err != nil {
			return err
		}
	}
	entries, _ := os.ReadDir(proc)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() && !want[e.Name()] {
			_ = os.RemoveAll(filepath.Join(proc, e.Name())) // the pod's process ended
		}
	}
	return nil
}
