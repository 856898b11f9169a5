// Command fakelet simulates the kubelets of N nodes in one process, against a real
// kube-apiserver. Per node it registers the Node (zone label, capacity, 127.x address),
// renews the node Lease in kube-node-lease, posts Ready status, marks pods bound to the
// node Running (pod IPs on 127.x) and finalises the deletion of its terminating pods.
//
// Poison: a node that has run a pod carrying the poison label (default
// firebreak.dev/e2e-poison=true) for --poison-delay dies: its lease and status stop and
// its pods are no longer touched, so the real node lifecycle controller marks it
// Unknown and taints it, as when a workload crashes the kubelet in the incident.
//
// A node is dead while the file <state-dir>/dead/<node> exists; `cluster.sh fail-node`
// creates it, `cluster.sh revive-node` removes it (the node then resumes heartbeating).
// Every node death/revival is appended to <state-dir>/events.log (timeline).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

type node struct {
	name  string
	index int
	zone  string
	ip    string
	uid   types.UID

	dead        bool
	poisonSince time.Time // when a poison pod was first seen running here (zero: none)
	poisonPod   string
	podSeq      int
}

type fakelet struct {
	cs            kubernetes.Interface
	nodes         map[string]*node
	order         []string
	mu            sync.Mutex
	stateDir      string
	poisonSel     labels.Selector
	poisonDelay   time.Duration
	leaseDuration int32
	version       string
	podLister     cache.Indexer
	queue         workqueue.TypedRateLimitingInterface[string]
	events        *os.File
	trees         *procTrees // nil: no --proc-trees
}

func main() {
	var (
		kubeconfig  = flag.String("kubeconfig", "", "admin kubeconfig")
		count       = flag.Int("nodes", 6, "number of simulated nodes")
		zones       = flag.String("zones", "zone-a,zone-b,zone-c", "comma-separated zones, assigned round robin")
		prefix      = flag.String("node-prefix", "node-", "node name prefix")
		stateDir    = flag.String("state-dir", "", "directory for dead/ markers and events.log")
		poison      = flag.String("poison-selector", "firebreak.dev/e2e-poison=true", "label selector of poison pods")
		poisonDelay = flag.Duration("poison-delay", 10*time.Second, "how long a node survives running a poison pod")
		leaseDur    = flag.Int("lease-duration", 8, "node lease duration in seconds")
		renew       = flag.Duration("lease-renew-interval", time.Second, "lease renew interval")
		statusEvery = flag.Duration("status-interval", 5*time.Second, "node status heartbeat interval")
		kubeletVer  = flag.String("kubelet-version", "v0.0.0-fakelet", "reported kubelet version")
		procDir     = flag.String("proc-trees", "", "write each node's /proc for firebreak-node under DIR/<node> (proctree.go)")
		gpu         = flag.String("gpu-selector", "firebreak.dev/e2e-gpu=true", "label selector of pods holding a GPU (with --proc-trees)")
	)
	flag.Parse()
	if *stateDir == "" {
		fmt.Fprintln(os.Stderr, "fakelet: --state-dir is required")
		os.Exit(2)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	must(err)
	cfg.QPS, cfg.Burst = 200, 400
	cfg.UserAgent = "fakelet"
	cs, err := kubernetes.NewForConfig(cfg)
	must(err)
	sel, err := labels.Parse(*poison)
	must(err)
	must(os.MkdirAll(filepath.Join(*stateDir, "dead"), 0o755))
	ev, err := os.OpenFile(filepath.Join(*stateDir, "events.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	must(err)

	f := &fakelet{
		cs: cs, nodes: map[string]*node{}, stateDir: *stateDir, poisonSel: sel,
		poisonDelay: *poisonDelay, leaseDuration: int32(*leaseDur), version: *kubeletVer, events: ev,
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	if *procDir != "" {
		gsel, err := labels.Parse(*gpu)
		must(err)
		f.trees = &procTrees{dir: *procDir, gpuSel: gsel, boot: time.Now().Add(-time.Hour), restart: map[types.UID]time.Time{}}
	}
	zl := strings.Split(*zones, ",")
	for i := 1; i <= *count; i++ {
		n := &node{name: fmt.Sprintf("%s%d", *prefix, i), index: i, zone: zl[(i-1)%len(zl)],
			ip: fmt.Sprintf("127.0.1.%d", i)}
		f.nodes[n.name] = n
		f.order = append(f.order, n.name)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	f.syncDeadMarkers()
	for _, name := range f.order {
		for {
			if err := f.register(ctx, f.nodes[name]); err != nil {
				logf("register %s: %v (retrying)", name, err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				continue
			}
			break
		}
	}
	logf("registered %d nodes in zones %s", *count, *zones)

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" }))
	podInf := factory.Core().V1().Pods().Informer()
	f.podLister = podInf.GetIndexer()
	enqueue := func(obj interface{}) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			f.queue.Add(key)
		}
	}
	_, err = podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, o interface{}) { enqueue(o) },
		DeleteFunc: enqueue,
	})
	must(err)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	for i := 0; i < 4; i++ {
		go f.worker(ctx)
	}

	go f.loop(ctx, *renew, f.renewLeases)
	go f.loop(ctx, *statusEvery, f.postStatuses)
	go f.loop(ctx, 250*time.Millisecond, f.checkPoisonAndMarkers)
	if f.trees != nil {
		go f.loop(ctx, 500*time.Millisecond, f.writeTrees)
	}
	<-ctx.Done()
	f.queue.ShutDown()
	logf("stopping")
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakelet:", err)
		os.Exit(1)
	}
}

func logf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "%s fakelet: %s\n", time.Now().Format(time.RFC3339Nano), fmt.Sprintf(format, a...))
}

// event appends a timeline line: <RFC3339Nano>\t<source>\t<message>.
func (f *fakelet) event(format string, a ...interface{}) {
	msg := fmt.Sprintf(format, a...)
	logf("%s", msg)
	fmt.Fprintf(f.events, "%s\tfakelet\t%s\n", time.Now().UTC().Format(time.RFC3339Nano), msg)
}

func (f *fakelet) loop(ctx context.Context, every time.Duration, fn func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

func (f *fakelet) alive() []*node {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*node
	for _, name := range f.order {
		if n := f.nodes[name]; !n.dead {
			out = append(out, n)
		}
	}
	return out
}

func (f *fakelet) isAlive(name string) (*node, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.nodes[name]
	return n, ok && !n.dead
}

func nodeLabels(n *node) map[string]string {
	return map[string]string{
		"kubernetes.io/hostname":        n.name,
		"kubernetes.io/os":              "linux",
		"kubernetes.io/arch":            "amd64",
		"topology.kubernetes.io/zone":   n.zone,
		"topology.kubernetes.io/region": "e2e",
		"firebreak.dev/e2e-node":        "fakelet",
	}
}

func capacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("8"),
		corev1.ResourceMemory:           resource.MustParse("32Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
}

func (f *fakelet) setStatus(n *node, st *corev1.NodeStatus) {
	now := metav1.Now()
	st.Capacity = capacity()
	st.Allocatable = capacity()
	st.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.ip}, {Type: corev1.NodeHostName, Address: n.name}}
	st.DaemonEndpoints = corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}}
	st.NodeInfo = corev1.NodeSystemInfo{
		MachineID: n.name, SystemUUID: n.name, BootID: n.name, KernelVersion: "fake", OSImage: "fakelet",
		ContainerRuntimeVersion: "fakelet://1", KubeletVersion: f.version, OperatingSystem: "linux", Architecture: "amd64",
	}
	want := []struct {
		t      corev1.NodeConditionType
		s      corev1.ConditionStatus
		reason string
		msg    string
	}{
		{corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
		{corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
		{corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
		{corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"},
	}
	for _, w := range want {
		found := false
		for i := range st.Conditions {
			c := &st.Conditions[i]
			if c.Type != w.t {
				continue
			}
			found = true
			if c.Status != w.s {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason, c.Message, c.LastHeartbeatTime = w.s, w.reason, w.msg, now
		}
		if !found {
			st.Conditions = append(st.Conditions, corev1.NodeCondition{Type: w.t, Status: w.s, Reason: w.reason,
				Message: w.msg, LastHeartbeatTime: now, LastTransitionTime: now})
		}
	}
}

func (f *fakelet) register(ctx context.Context, n *node) error {
	nodes := f.cs.CoreV1().Nodes()
	obj, err := nodes.Get(ctx, n.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		obj = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: nodeLabels(n)}}
		f.setStatus(n, &obj.Status)
		obj, err = nodes.Create(ctx, obj, metav1.CreateOptions{})
	}
	if err != nil {
		return err
	}
	if obj.Labels == nil {
		obj.Labels = map[string]string{}
	}
	for k, v := range nodeLabels(n) {
		obj.Labels[k] = v
	}
	if obj, err = nodes.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return err
	}
	f.mu.Lock()
	n.uid = obj.UID
	dead := n.dead
	f.mu.Unlock()
	if dead {
		return nil
	}
	if err := f.postStatus(ctx, n); err != nil {
		return err
	}
	return f.renewLease(ctx, n)
}

func (f *fakelet) postStatus(ctx context.Context, n *node) error {
	obj, err := f.cs.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	f.setStatus(n, &obj.Status)
	_, err = f.cs.CoreV1().Nodes().UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	return err
}

func (f *fakelet) renewLease(ctx context.Context, n *node) error {
	leases := f.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, n.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.name, Namespace: corev1.NamespaceNodeLease,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.name, UID: n.uid}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(n.name), LeaseDurationSeconds: ptr.To(f.leaseDuration), RenewTime: &now},
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.HolderIdentity = ptr.To(n.name)
	l.Spec.LeaseDurationSeconds = ptr.To(f.leaseDuration)
	l.Spec.RenewTime = &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

func (f *fakelet) renewLeases(ctx context.Context) {
	for _, n := range f.alive() {
		if err := f.renewLease(ctx, n); err != nil && ctx.Err() == nil {
			logf("renew lease %s: %v", n.name, err)
		}
	}
}

func (f *fakelet) postStatuses(ctx context.Context) {
	for _, n := range f.alive() {
		if err := f.postStatus(ctx, n); err != nil && ctx.Err() == nil {
			logf("post status %s: %v", n.name, err)
		}
	}
}

// syncDeadMarkers applies the dead/ marker files; returns nodes that came back.
func (f *fakelet) syncDeadMarkers() []*node {
	entries, _ := os.ReadDir(filepath.Join(f.stateDir, "dead"))
	marked := map[string]bool{}
	for _, e := range entries {
		marked[e.Name()] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var revived []*node
	for _, name := range f.order {
		n := f.nodes[name]
		switch {
		case marked[name] && !n.dead:
			n.dead = true
			f.event("node %s stopped heartbeating (failed on demand)", name)
		case !marked[name] && n.dead:
			n.dead = false
			n.poisonSince = time.Time{}
			revived = append(revived, n)
			f.event("node %s revived: heartbeating again", name)
		}
	}
	return revived
}

func (f *fakelet) checkPoisonAndMarkers(ctx context.Context) {
	for _, n := range f.syncDeadMarkers() {
		if err := f.postStatus(ctx, n); err != nil {
			logf("post status %s: %v", n.name, err)
		}
		if err := f.renewLease(ctx, n); err != nil {
			logf("renew lease %s: %v", n.name, err)
		}
		f.resyncNode(n.name)
	}
	now := time.Now()
	f.mu.Lock()
	var kill []*node
	for _, name := range f.order {
		n := f.nodes[name]
		if n.dead || n.poisonSince.IsZero() {
			continue
		}
		if !f.runsPoison(name) { // the poison pod left before it did harm
			n.poisonSince, n.poisonPod = time.Time{}, ""
			continue
		}
		if now.Sub(n.poisonSince) >= f.poisonDelay {
			kill = append(kill, n)
		}
	}
	f.mu.Unlock()
	for _, n := range kill {
		marker := filepath.Join(f.stateDir, "dead", n.name)
		_ = os.WriteFile(marker, []byte("poison "+n.poisonPod+"\n"), 0o644)
		f.mu.Lock()
		n.dead = true
		pod := n.poisonPod
		f.mu.Unlock()
		f.event("node %s stopped heartbeating: poison pod %s ran there for %s", n.name, pod, f.poisonDelay)
	}
}

// runsPoison reports whether a live (not terminating) poison pod is bound to the node.
func (f *fakelet) runsPoison(name string) bool {
	for _, obj := range f.podLister.List() {
		p := obj.(*corev1.Pod)
		if p.Spec.NodeName == name && p.DeletionTimestamp == nil && f.poisonSel.Matches(labels.Set(p.Labels)) {
			return true
		}
	}
	return false
}

func (f *fakelet) resyncNode(name string) {
	for _, obj := range f.podLister.List() {
		p := obj.(*corev1.Pod)
		if p.Spec.NodeName == name {
			if key, err := cache.MetaNamespaceKeyFunc(p); err == nil {
				f.queue.Add(key)
			}
		}
	}
}

func (f *fakelet) worker(ctx context.Context) {
	for {
		key, quit := f.queue.Get()
		if quit {
			return
		}
		if err := f.syncPod(ctx, key); err != nil && ctx.Err() == nil {
			logf("sync pod %s: %v", key, err)
			f.queue.AddRateLimited(key)
		} else {
			f.queue.Forget(key)
		}
		f.queue.Done(key)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (f *fakelet) syncPod(ctx context.Context, key string) error {
	obj, exists, err := f.podLister.GetByKey(key)
	if err != nil || !exists {
		return err
	}
	p := obj.(*corev1.Pod)
	n, ok := f.isAlive(p.Spec.NodeName)
	if !ok {
		return nil // unknown or dead node: nobody answers for its pods
	}
	pods := f.cs.CoreV1().Pods(p.Namespace)
	if p.DeletionTimestamp != nil {
		// The "containers" stop at once; confirm the deletion as the kubelet does.
		err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0),
			Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return nil
	}
	if p.Status.Phase != corev1.PodRunning || !podReady(p) {
		p = p.DeepCopy()
		f.mu.Lock()
		n.podSeq++
		seq := n.podSeq
		f.mu.Unlock()
		now := metav1.Now()
		if p.Status.PodIP == "" {
			ip := fmt.Sprintf("127.%d.%d.%d", 100+n.index, (seq/250)%250, seq%250+1)
			p.Status.PodIP = ip
			p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.HostIP = n.ip
		p.Status.HostIPs = []corev1.HostIP{{IP: n.ip}}
		if p.Status.StartTime == nil {
			p.Status.StartTime = &now
		}
		conds := []corev1.PodConditionType{corev1.PodScheduled, "PodReadyToStartContainers", corev1.PodInitialized,
			corev1.ContainersReady, corev1.PodReady}
		for _, t := range conds {
			set := false
			for i := range p.Status.Conditions {
				if p.Status.Conditions[i].Type == t {
					if p.Status.Conditions[i].Status != corev1.ConditionTrue {
						p.Status.Conditions[i].LastTransitionTime = now
					}
					p.Status.Conditions[i].Status = corev1.ConditionTrue
					p.Status.Conditions[i].Reason, p.Status.Conditions[i].Message = "", ""
					set = true
				}
			}
			if !set {
				p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
			}
		}
		p.Status.ContainerStatuses = nil
		for _, c := range p.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image, ImageID: "fakelet://" + c.Image, Ready: true, Started: ptr.To(true),
				ContainerID: fmt.Sprintf("fakelet://%s/%s", p.UID, c.Name),
				State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			})
		}
		sort.Slice(p.Status.ContainerStatuses, func(i, j int) bool {
			return p.Status.ContainerStatuses[i].Name < p.Status.ContainerStatuses[j].Name
		})
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
	}
	if f.poisonSel.Matches(labels.Set(p.Labels)) {
		f.mu.Lock()
		if n.poisonSince.IsZero() && !n.dead {
			n.poisonSince = time.Now()
			n.poisonPod = p.Namespace + "/" + p.Name
			f.mu.Unlock()
			f.event("node %s runs poison pod %s/%s: it dies in %s", n.name, p.Namespace, p.Name, f.poisonDelay)
			return nil
		}
		f.mu.Unlock()
	}
	return nil
}
