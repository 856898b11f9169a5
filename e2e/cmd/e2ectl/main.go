// Command e2ectl is the scenario driver of the firebreak e2e harness: small client-go
// verbs the scenario scripts compose (no kubectl needed).
//
//	e2ectl ready     --nodes N [--timeout 90s]         wait for /readyz and N Ready nodes
//	e2ectl deploy    NAME [--replicas N] [--poison]   create a Deployment (pause pods)
//	e2ectl rollout   NAME... [--timeout 60s]          wait until Deployments are available
//	e2ectl watch     --out FILE                       record the timeline until SIGTERM
//	e2ectl timeline  FILE...                          merge timeline files, print relative times
//	e2ectl expect-cascade --app NAME --min-nodes N [--timeout 4m]
//	                                                  wait until N nodes were lost through
//	                                                  NotReady -> NoExecute taint -> eviction,
//	                                                  with the app's pod rescheduled each time
//	e2ectl events [--source firebreak]               print the Events of all namespaces, oldest first
//	e2ectl nodes | pods                               print the number of nodes / pods (all namespaces)
//
// firebreak-mode verbs (firebreak.go):
//
//	e2ectl apply FILE|DIR|-... [--dry-run] [--field-manager M]
//	                                   server-side apply (multi-document YAML); CRDs first, waited
//	                                   for until Established; kinds not served yet are retried
//	e2ectl get KIND [NAME] [-A] [-o json|jsonpath=T]  (default: the server's table, printer columns)
//	e2ectl delete KIND NAME... [--ignore-not-found]
//	e2ectl wait-for KIND NAME --jsonpath T --equals V [--timeout]
//	e2ectl failed-nodes                               nodes not Ready, comma-separated
//	e2ectl expect-contained --app A --max-nodes 2 [--settle 60s] [--timeout 4m]
//	                                   waits for the Quarantine of A, then `settle` longer; fails
//	                                   if more than max-nodes nodes went NotReady meanwhile
//	e2ectl expect-quarantine --app A [--absent] [--timeout]   (--absent without --app: none at all)
//	e2ectl expect-taint [--node N,..] --key K [--absent] [--timeout]
//	e2ectl expect-event --reason R [--kind K] [--name N] [--contains S] [--count N] [--absent]
//	                                   Events written by firebreak (--any-source: by anyone)
//	e2ectl expect-moved [--node N,..] [--except-app A] [--timeout]
//	                                   pods on those nodes (default: the failed ones) terminating and
//	                                   their Deployments fully Running elsewhere
//	e2ectl expect-pinned --app A       every pod of A is on a failed node, bound, not terminating
//	e2ectl expect-stay --node N,.. [--app A] --for 25s  no pod on them deleted/terminating meanwhile
//	e2ectl expect-evicted --node N [--within 12s] [--timeout]
//	                                   pods on N terminating; prints/limits the latency from the
//	                                   node's Ready transition
//	e2ectl kubectl ARGS...             the kubectl subset config/validate.sh uses
//	e2ectl token SA [-n NS] [--bound-pod P] print a TokenRequest token of ServiceAccount SA (1 h),
//	                                   bound to pod P (then it carries P's node name)
//	e2ectl delete-pods | expect-gated | expect-scheduled | expect-webhook | create-pods
//	                                   the quarantine gate (gate.go)
//	e2ectl expect-covered | expect-restored [--app A] [--node N,..] [--seconds S] [--count C]
//	e2ectl coverage | wait-covered     managed mode (managed.go)
//
// All verbs take --kubeconfig (default $KUBECONFIG) and --namespace/-n (default "default").
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

const poisonLabel = "firebreak.dev/e2e-poison"

var (
	kubeconfig string
	namespace  string
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: e2ectl VERB [flags] [args] (verbs: see the top of e2e/cmd/e2ectl/main.go)")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	verb := os.Args[1]
	fs := flag.NewFlagSet(verb, flag.ExitOnError)
	fs.StringVar(&kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig")
	fs.StringVar(&namespace, "namespace", "default", "namespace")
	timeout := fs.Duration("timeout", 90*time.Second, "timeout")
	nodes := fs.Int("nodes", 0, "expected node count (ready)")
	replicas := fs.Int("replicas", 1, "replicas (deploy)")
	poison := fs.Bool("poison", false, "label the pods as poison (deploy)")
	boundPod := fs.String("bound-pod", "", "bind the token to this pod of the namespace (token): it then carries the pod's node name")
	gpu := fs.Bool("gpu", false, "label the pods as holding a GPU: fakelet's --proc-trees gives their process /dev/nvidia0 (deploy)")
	cpu := fs.String("cpu", "100m", "cpu request per pod (deploy)")
	out := fs.String("out", "", "output file (watch)")
	app := fs.String("app", "poison", "app label of the poison Deployment (expect-cascade)")
	minNodes := fs.Int("min-nodes", 4, "nodes that must be lost (expect-cascade)")
	fs.StringVar(&namespace, "n", "default", "namespace")
	allNS := fs.Bool("A", false, "all namespaces (get)")
	output := fs.String("o", "", "output: json | jsonpath=TEMPLATE (get)")
	dryRun := fs.Bool("dry-run", false, "server-side dry run (apply)")
	fieldManager := fs.String("field-manager", "e2ectl", "field manager (apply)")
	ignoreNF := fs.Bool("ignore-not-found", false, "(delete)")
	maxNodes := fs.Int("max-nodes", 2, "nodes that may be lost (expect-contained)")
	settle := fs.Duration("settle", 60*time.Second, "watch this long after the quarantine (expect-contained)")
	absent := fs.Bool("absent", false, "expect the thing not to exist")
	reason := fs.String("reason", "", "Event reason")
	kind := fs.String("kind", "", "involved object kind (expect-event)")
	name := fs.String("name", "", "involved object name or name prefix (expect-event)")
	contains := fs.String("contains", "", "message substring (expect-event)")
	count := fs.Int("count", 1, "minimum number of matching Events (expect-event)")
	anySource := fs.Bool("any-source", false, "Events of any component, not only firebreak (expect-event)")
	source := fs.String("source", "", "only Events whose reporting controller contains this (events)")
	node := fs.String("node", "", "node name(s), comma-separated")
	key := fs.String("key", "", "taint key (expect-taint)")
	exceptApp := fs.String("except-app", "", "app to leave out (expect-moved)")
	within := fs.Duration("within", 0, "latency limit (expect-evicted)")
	forDur := fs.Duration("for", 20*time.Second, "duration (expect-stay)")
	jsonPath := fs.String("jsonpath", "", "JSONPath template (wait-for)")
	equals := fs.String("equals", "", "expected value (wait-for)")
	force := fs.Bool("force", false, "grace period 0 (delete-pods)")
	label := fs.String("label", "", "what the figures are of (create-pods)")
	keep := fs.Bool("keep", false, "keep the pods (create-pods)")
	seconds := fs.Int("seconds", -1, "recorded/restored tolerationSeconds (expect-covered, expect-restored)")
	if verb == "kubectl" {
		kubeconfig = os.Getenv("KUBECONFIG")
		os.Exit(kubectlShim(os.Args[2:]))
	}
	args := os.Args[2:]
	// Allow positional arguments before flags: collect them separately.
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			os.Exit(2)
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	var err error
	switch verb {
	case "timeline":
		err = printTimeline(pos)
	case "ready":
		err = waitReady(ctx, client(), *nodes, *timeout)
	case "deploy":
		if len(pos) != 1 {
			usage()
		}
		err = deploy(ctx, client(), pos[0], int32(*replicas), *poison, *gpu, *cpu)
	case "rollout":
		err = rollout(ctx, client(), pos, *timeout)
	case "watch":
		err = watch(ctx, client(), *out)
	case "expect-cascade":
		err = expectCascade(ctx, client(), *app, *minNodes, *timeout)
	case "events":
		err = printEvents(ctx, client(), *source)
	case "apply":
		err = applyFiles(ctx, pos, applyOpts{dryRun: *dryRun, fieldManager: *fieldManager, force: true}, *timeout)
	case "get":
		err = getCmd(ctx, pos, *allNS, *output)
	case "delete":
		err = deleteCmd(ctx, pos, *ignoreNF)
	case "wait-for":
		err = waitJSONPath(ctx, pos, *jsonPath, *equals, *timeout)
	case "token":
		if len(pos) != 1 {
			usage()
		}
		err = printToken(ctx, client(), namespace, pos[0], *boundPod)
	case "failed-nodes":
		var l []string
		if l, err = failedNodes(ctx, client()); err == nil {
			fmt.Println(strings.Join(l, ","))
		}
	case "expect-contained":
		err = expectContained(ctx, client(), *app, *maxNodes, *settle, *timeout)
	case "expect-quarantine":
		a := *app
		if !isFlagSet(fs, "app") {
			a = ""
		}
		err = expectQuarantine(ctx, a, *absent, *timeout)
	case "expect-taint":
		err = expectTaint(ctx, client(), splitList(*node), *key, *absent, *timeout)
	case "expect-event":
		err = expectEvent(ctx, client(), evFilter{*reason, *kind, *name, *contains, *anySource}, *count, *absent, *timeout)
	case "expect-moved":
		err = expectMoved(ctx, client(), splitList(*node), *exceptApp, *timeout)
	case "delete-pods":
		err = deletePods(ctx, client(), *app, *force)
	case "expect-gated":
		err = expectGated(ctx, client(), *app, *count, *timeout)
	case "expect-scheduled":
		err = expectScheduled(ctx, client(), *app, *count, *timeout)
	case "expect-webhook":
		if len(pos) != 1 {
			usage()
		}
		err = expectWebhook(ctx, client(), pos[0], *timeout)
	case "create-pods":
		err = createPods(ctx, client(), *count, *label, *keep)
	case "expect-covered":
		err = expectCovered(ctx, client(), map[bool]string{true: *app, false: ""}[isFlagSet(fs, "app")],
			*node, int64(*seconds), *count, *timeout)
	case "expect-restored":
		if !isFlagSet(fs, "count") {
			*count = 0
		}
		err = expectRestored(ctx, client(), map[bool]string{true: *app, false: ""}[isFlagSet(fs, "app")],
			*node, int64(*seconds), *count, *timeout)
	case "coverage":
		ns := namespace
		if *allNS {
			ns = ""
		}
		var c, u int
		if c, u, err = coverage(ctx, client(), ns); err == nil {
			fmt.Printf("covered=%d uncovered=%d\n", c, u)
		}
	case "wait-covered":
		ns := namespace
		if *allNS {
			ns = ""
		}
		err = waitCovered(ctx, client(), ns, *count, *timeout)
	case "expect-pinned":
		err = expectPinned(ctx, client(), *app)
	case "expect-stay":
		err = expectStay(ctx, client(), *node, map[bool]string{true: *app, false: ""}[isFlagSet(fs, "app")], *forDur)
	case "expect-evicted":
		err = expectEvicted(ctx, client(), *node, *within, *timeout)
	case "pods":
		var l *corev1.PodList
		if l, err = client().CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err == nil {
			fmt.Println(len(l.Items))
		}
	case "nodes":
		var l *corev1.NodeList
		if l, err = client().CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
			fmt.Println(len(l.Items))
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2ectl %s: %v\n", verb, err)
		os.Exit(1)
	}
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func client() kubernetes.Interface {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2ectl:", err)
		os.Exit(1)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "e2ectl"
	return kubernetes.NewForConfigOrDie(cfg)
}

func nodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func waitReady(ctx context.Context, cs kubernetes.Interface, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		var ready, total int
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			l, lerr := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if lerr == nil {
				total = len(l.Items)
				for i := range l.Items {
					if nodeReady(&l.Items[i]) == corev1.ConditionTrue {
						ready++
					}
				}
				// Pods can only be created once the default ServiceAccount exists.
				_, saErr := cs.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
				if want == 0 {
					saErr = nil
				}
				if ready >= want && saErr == nil {
					fmt.Printf("api ready, %d/%d nodes Ready\n", ready, total)
					return nil
				}
				last = fmt.Sprintf("%d/%d nodes Ready, want %d", ready, total, want)
			} else {
				last = lerr.Error()
			}
		} else if err != nil {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %s", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func deploy(ctx context.Context, cs kubernetes.Interface, name string, replicas int32, poison, gpu bool, cpu string) error {
	lbl := map[string]string{"app": name}
	podLabels := map[string]string{"app": name}
	if poison {
		podLabels[poisonLabel] = "true"
	}
	if gpu {
		podLabels["firebreak.dev/e2e-gpu"] = "true"
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: podLabels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					Containers: []corev1.Container{{
						Name: "main", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse(cpu),
							corev1.ResourceMemory: resource.MustParse("64Mi"),
						}},
					}},
				},
			},
		},
	}
	_, err := cs.AppsV1().Deployments(namespace).Create(ctx, d, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = cs.AppsV1().Deployments(namespace).Update(ctx, d, metav1.UpdateOptions{})
	}
	if err == nil {
		fmt.Printf("deployment %s/%s: %d replicas (poison=%v)\n", namespace, name, replicas, poison)
	}
	return err
}

func rollout(ctx context.Context, cs kubernetes.Interface, names []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, name := range names {
		for {
			d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
			if err == nil && d.Spec.Replicas != nil && d.Status.AvailableReplicas == *d.Spec.Replicas &&
				d.Status.UpdatedReplicas == *d.Spec.Replicas {
				fmt.Printf("deployment %s available (%d)\n", name, d.Status.AvailableReplicas)
				break
			}
			if time.Now().After(deadline) {
				if err == nil {
					err = fmt.Errorf("%d/%d available", d.Status.AvailableReplicas, ptr.Deref(d.Spec.Replicas, 0))
				}
				return fmt.Errorf("deployment %s not available after %s: %v", name, timeout, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// ---- timeline recording ----

type recorder struct {
	mu  sync.Mutex
	w   *bufio.Writer
	f   *os.File
	out func(string)
}

func (r *recorder) emit(format string, a ...interface{}) { r.emitSrc("watch", format, a...) }

func (r *recorder) emitSrc(src, format string, a ...interface{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "%s\t%s\t%s\n", time.Now().UTC().Format(time.RFC3339Nano), src, fmt.Sprintf(format, a...))
	_ = r.w.Flush()
}

func noExecuteTaints(n *corev1.Node) map[string]bool {
	m := map[string]bool{}
	for _, t := range n.Spec.Taints {
		k := t.Key
		if strings.HasPrefix(t.Key, "firebreak.dev/") {
			k += "=" + t.Value // the quarantine taint names the workload
		}
		m[k+":"+string(t.Effect)] = true
	}
	return m
}

func disruptionReason(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return c.Reason
		}
	}
	return ""
}

func watch(ctx context.Context, cs kubernetes.Interface, out string) error {
	f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	r := &recorder{w: bufio.NewWriter(f), f: f}
	zoneOf := func(name string) string { return "" }
	factory := informers.NewSharedInformerFactory(cs, 0)
	nodeInf := factory.Core().V1().Nodes().Informer()
	podInf := factory.Core().V1().Pods().Informer()
	zoneOf = func(name string) string {
		if obj, ok, _ := nodeInf.GetIndexer().GetByKey(name); ok {
			return obj.(*corev1.Node).Labels["topology.kubernetes.io/zone"]
		}
		return "?"
	}
	_, _ = nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o interface{}) {
			n := o.(*corev1.Node)
			r.emit("node %s (%s) Ready=%s", n.Name, n.Labels["topology.kubernetes.io/zone"], nodeReady(n))
		},
		UpdateFunc: func(o, nw interface{}) {
			old, n := o.(*corev1.Node), nw.(*corev1.Node)
			if a, b := nodeReady(old), nodeReady(n); a != b {
				reason := ""
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady {
						reason = c.Reason
					}
				}
				r.emit("node %s Ready %s -> %s (%s)", n.Name, a, b, reason)
			}
			ot, nt := noExecuteTaints(old), noExecuteTaints(n)
			for k := range nt {
				if !ot[k] {
					r.emit("node %s taint + %s", n.Name, k)
				}
			}
			for k := range ot {
				if !nt[k] {
					r.emit("node %s taint - %s", n.Name, k)
				}
			}
		},
		DeleteFunc: func(o interface{}) {
			if n, ok := o.(*corev1.Node); ok {
				r.emit("node %s deleted", n.Name)
			}
		},
	})
	podName := func(p *corev1.Pod) string {
		s := p.Namespace + "/" + p.Name
		if p.Labels[poisonLabel] == "true" {
			s += " [poison]"
		}
		return s
	}
	_, _ = podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o interface{}) {
			p := o.(*corev1.Pod)
			if p.Spec.NodeName != "" {
				r.emit("pod %s on %s (%s) phase=%s", podName(p), p.Spec.NodeName, zoneOf(p.Spec.NodeName), p.Status.Phase)
			}
		},
		UpdateFunc: func(o, nw interface{}) {
			old, p := o.(*corev1.Pod), nw.(*corev1.Pod)
			if old.Spec.NodeName == "" && p.Spec.NodeName != "" {
				r.emit("pod %s bound to %s (%s)", podName(p), p.Spec.NodeName, zoneOf(p.Spec.NodeName))
			}
			if old.Status.Phase != p.Status.Phase && p.Status.Phase == corev1.PodRunning {
				r.emit("pod %s Running on %s", podName(p), p.Spec.NodeName)
			}
			if old.DeletionTimestamp == nil && p.DeletionTimestamp != nil {
				reason := disruptionReason(p)
				if reason == "" {
					reason = "deleted"
				}
				r.emit("pod %s terminating on %s (%s)", podName(p), p.Spec.NodeName, reason)
			}
		},
		DeleteFunc: func(o interface{}) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if p, ok := o.(*corev1.Pod); ok {
				r.emit("pod %s removed (was on %s)", podName(p), p.Spec.NodeName)
			}
		},
	})
	watchFirebreakEvents(factory, r)
	go watchQuarantines(ctx, r)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	r.emit("watcher synced")
	<-ctx.Done()
	return nil
}

// printTimeline merges "<RFC3339Nano>\t<source>\t<msg>" files and prints times relative
// to the first "scenario start" marker (or the first line).
func printTimeline(files []string) error {
	type line struct {
		t   time.Time
		src string
		msg string
	}
	var lines []line
	for _, fn := range files {
		f, err := os.Open(fn)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			parts := strings.SplitN(sc.Text(), "\t", 3)
			if len(parts) != 3 {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, parts[0])
			if err != nil {
				continue
			}
			lines = append(lines, line{t, parts[1], parts[2]})
		}
		f.Close()
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].t.Before(lines[j].t) })
	if len(lines) == 0 {
		return nil
	}
	t0 := lines[0].t
	for _, l := range lines {
		if l.src == "scenario" && strings.HasPrefix(l.msg, "start") {
			t0 = l.t
			break
		}
	}
	for _, l := range lines {
		fmt.Printf("%+8.1fs  %-8s %s\n", l.t.Sub(t0).Seconds(), l.src, l.msg)
	}
	return nil
}

// ---- cascade check ----

type nodeLoss struct {
	notReadyAt time.Time
	taintAt    time.Time
	evictions  int
	poisonEv   bool
}

// expectCascade waits until minNodes nodes each went NotReady/Unknown, received a
// NoExecute not-ready/unreachable taint and had pods evicted by the taint manager, and
// the app's pod was rescheduled after each of its evictions.
func expectCascade(ctx context.Context, cs kubernetes.Interface, app string, minNodes int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	losses := map[string]*nodeLoss{}
	poisonNodes := map[string]bool{} // nodes the poison app's pods were bound to
	get := func(n string) *nodeLoss {
		if losses[n] == nil {
			losses[n] = &nodeLoss{}
		}
		return losses[n]
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	nodeInf := factory.Core().V1().Nodes().Informer()
	podInf := factory.Core().V1().Pods().Informer()
	onNode := func(n *corev1.Node) {
		mu.Lock()
		defer mu.Unlock()
		if nodeReady(n) != corev1.ConditionTrue {
			if l := get(n.Name); l.notReadyAt.IsZero() {
				l.notReadyAt = time.Now()
			}
		}
		for _, t := range n.Spec.Taints {
			if t.Effect == corev1.TaintEffectNoExecute &&
				(t.Key == corev1.TaintNodeUnreachable || t.Key == corev1.TaintNodeNotReady) {
				if l := get(n.Name); l.taintAt.IsZero() {
					l.taintAt = time.Now()
				}
			}
		}
	}
	evicted := map[string]bool{}
	onPod := func(p *corev1.Pod) {
		mu.Lock()
		defer mu.Unlock()
		isApp := p.Labels["app"] == app
		if isApp && p.Spec.NodeName != "" {
			poisonNodes[p.Spec.NodeName] = true
		}
		if p.DeletionTimestamp != nil && p.Spec.NodeName != "" && disruptionReason(p) == "DeletionByTaintManager" &&
			!evicted[string(p.UID)] {
			evicted[string(p.UID)] = true
			l := get(p.Spec.NodeName)
			l.evictions++
			if isApp {
				l.poisonEv = true
			}
		}
	}
	_, _ = nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { onNode(o.(*corev1.Node)) },
		UpdateFunc: func(_, o interface{}) { onNode(o.(*corev1.Node)) },
	})
	_, _ = podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { onPod(o.(*corev1.Pod)) },
		UpdateFunc: func(_, o interface{}) { onPod(o.(*corev1.Pod)) },
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	start := time.Now()
	report := func() (lost []string, summary string) {
		mu.Lock()
		defer mu.Unlock()
		var b strings.Builder
		names := make([]string, 0, len(losses))
		for n := range losses {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			return losses[names[i]].notReadyAt.Before(losses[names[j]].notReadyAt)
		})
		for _, n := range names {
			l := losses[n]
			full := !l.notReadyAt.IsZero() && !l.taintAt.IsZero() && l.evictions > 0
			if full {
				lost = append(lost, n)
			}
			at := func(t time.Time) string {
				if t.IsZero() {
					return "-"
				}
				return fmt.Sprintf("+%.1fs", t.Sub(start).Seconds())
			}
			fmt.Fprintf(&b, "  %-10s notready=%-8s taint=%-8s evicted=%-3d poison-evicted=%-5v lost=%v\n",
				n, at(l.notReadyAt), at(l.taintAt), l.evictions, l.poisonEv, full)
		}
		fmt.Fprintf(&b, "  poison pods were bound to %d distinct nodes\n", len(poisonNodes))
		return lost, b.String()
	}
	for {
		lost, summary := report()
		mu.Lock()
		spread := len(poisonNodes)
		mu.Unlock()
		// spread > minNodes: the poison pod was rescheduled off the last lost node too.
		if len(lost) >= minNodes && spread > minNodes {
			fmt.Printf("cascade: %d nodes lost (%s) through NotReady -> taint -> eviction -> reschedule\n%s",
				len(lost), strings.Join(lost, ","), summary)
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Print(summary)
			return fmt.Errorf("only %d nodes lost (want %d) after %s", len(lost), minNodes, timeout)
		case <-time.After(time.Second):
		}
	}
}

func printEvents(ctx context.Context, cs kubernetes.Interface, source string) error {
	l, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	when := func(e *corev1.Event) time.Time {
		switch {
		case !e.LastTimestamp.IsZero():
			return e.LastTimestamp.Time
		case !e.EventTime.IsZero():
			return e.EventTime.Time
		}
		return e.CreationTimestamp.Time
	}
	sort.SliceStable(l.Items, func(i, j int) bool { return when(&l.Items[i]).Before(when(&l.Items[j])) })
	for i := range l.Items {
		e := &l.Items[i]
		src := e.Source.Component
		if src == "" {
			src = e.ReportingController
		}
		if source != "" && !strings.Contains(src, source) {
			continue
		}
		fmt.Printf("%s  %-7s %-24s %s/%s: %s [%s, x%d]\n", when(e).Local().Format("15:04:05"), e.Type, e.Reason,
			e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message, src, max(e.Count, 1))
	}
	return nil
}

// printToken prints a token of ServiceAccount ns/sa from the TokenRequest API, valid 1 h.
func printToken(ctx context.Context, cs kubernetes.Interface, ns, sa, pod string) error {
	exp := int64(3600)
	spec := authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}
	if pod != "" {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	fmt.Println(tr.Status.Token)
	return nil
}
