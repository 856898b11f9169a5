// Verbs of e2ectl for firebreak-mode scenarios: applying manifests (CRDs included), generic
// get/delete, and the checks the scenarios assert (quarantine, taints, Events, pods moved,
// pods pinned, eviction latency), plus a minimal kubectl stand-in for config/validate.sh.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/jsonpath"
)

const fbController = "firebreak.dev/firebreak"

var (
	crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	qrGVR  = schema.GroupVersionResource{Group: "firebreak.dev", Version: "v1alpha1", Resource: "quarantines"}
)

func restConfig() *rest.Config {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2ectl:", err)
		os.Exit(1)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "e2ectl"
	return cfg
}

func dynClient() dynamic.Interface { return dynamic.NewForConfigOrDie(restConfig()) }

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// ---- apply ----

type applyOpts struct {
	dryRun       bool
	fieldManager string
	force        bool
	quiet        bool
}

// readManifests decodes every YAML/JSON document of the files ("-" = stdin; a directory =
// its *.yaml/*.yml/*.json files), skipping empty documents.
func readManifests(files []string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	var expand []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.IsDir() {
			ents, err := os.ReadDir(f)
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				n := e.Name()
				if !e.IsDir() && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".json")) {
					expand = append(expand, f+"/"+n)
				}
			}
			continue
		}
		expand = append(expand, f)
	}
	for _, f := range expand {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var m map[string]interface{}
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(m) == 0 {
				continue
			}
			u := &unstructured.Unstructured{Object: m}
			if u.GetKind() == "" || u.GetAPIVersion() == "" {
				return nil, fmt.Errorf("%s: a document without apiVersion/kind", f)
			}
			if u.GetName() == "" {
				return nil, fmt.Errorf("%s: %s without metadata.name", f, u.GetKind())
			}
			objs = append(objs, u)
		}
	}
	return objs, nil
}

type applier struct {
	cfg    *rest.Config
	dyn    dynamic.Interface
	disc   discovery.CachedDiscoveryInterface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier() *applier {
	cfg := restConfig()
	dc := memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg))
	return &applier{cfg: cfg, dyn: dynamic.NewForConfigOrDie(cfg), disc: dc,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(dc)}
}

func (a *applier) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && meta.IsNoMatchError(err) {
		a.mapper.Reset()
		m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

func (a *applier) apply(ctx context.Context, u *unstructured.Unstructured, o applyOpts) error {
	gvk := u.GroupVersionKind()
	m, err := a.mapping(gvk)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = namespace
			u.SetNamespace(ns)
		}
		ri = a.dyn.Resource(m.Resource).Namespace(ns)
	}
	body, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	po := metav1.PatchOptions{FieldManager: o.fieldManager, Force: &o.force, FieldValidation: "Strict"}
	if o.dryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, po); err != nil {
		return err
	}
	if !o.quiet {
		suffix := "serverside-applied"
		if o.dryRun {
			suffix += " (server dry run)"
		}
		fmt.Printf("%s/%s %s\n", strings.ToLower(m.Resource.GroupResource().String()), u.GetName(), suffix)
	}
	return nil
}

func crdEstablished(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		cm, ok := c.(map[string]interface{})
		if ok && cm["type"] == "Established" && cm["status"] == "True" {
			return true
		}
	}
	return false
}

func (a *applier) waitCRDs(ctx context.Context, names []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, n := range names {
		for {
			u, err := a.dyn.Resource(crdGVR).Get(ctx, n, metav1.GetOptions{})
			if err == nil && crdEstablished(u) {
				break
			}
			if time.Now().After(deadline) {
				if err == nil {
					err = errors.New("not Established")
				}
				return fmt.Errorf("crd %s: %v after %s", n, err, timeout)
			}
			if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
	}
	a.mapper.Reset()
	return nil
}

// applyFiles: CRDs first (server-side apply, then wait until Established and served), then
// every other object in file order (server-side apply through the RESTMapper; a kind the
// API server does not serve yet is retried until the timeout).
func applyFiles(ctx context.Context, files []string, o applyOpts, timeout time.Duration) error {
	objs, err := readManifests(files)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return errors.New("no objects in " + strings.Join(files, " "))
	}
	a := newApplier()
	var crds []string
	for _, u := range objs {
		if u.GetKind() == "CustomResourceDefinition" {
			if err := a.apply(ctx, u, o); err != nil {
				return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
			}
			crds = append(crds, u.GetName())
		}
	}
	if len(crds) > 0 && !o.dryRun {
		if err := a.waitCRDs(ctx, crds, timeout); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(timeout)
	for _, u := range objs {
		if u.GetKind() == "CustomResourceDefinition" {
			continue
		}
		for {
			err := a.apply(ctx, u, o)
			if err == nil {
				break
			}
			if meta.IsNoMatchError(err) && time.Now().Before(deadline) {
				_ = sleepCtx(ctx, 500*time.Millisecond)
				continue
			}
			return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// ---- resource lookup, get, delete ----

// resolve maps "quarantines", "quarantine", "Quarantine", "qr", "quarantines.firebreak.dev"
// to the preferred version of the resource.
func resolve(cfg *rest.Config, what string) (schema.GroupVersionResource, bool, error) {
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	lists, err := dc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return schema.GroupVersionResource{}, false, err
	}
	w := strings.ToLower(what)
	group := ""
	if i := strings.Index(w, "."); i > 0 {
		w, group = w[:i], w[i+1:]
	}
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		if group != "" && gv.Group != group {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			match := r.Name == w || r.SingularName == w || strings.ToLower(r.Kind) == w
			for _, s := range r.ShortNames {
				match = match || s == w
			}
			if match {
				return gv.WithResource(r.Name), r.Namespaced, nil
			}
		}
	}
	return schema.GroupVersionResource{}, false, fmt.Errorf("the server doesn't have a resource type %q", what)
}

func getCmd(ctx context.Context, pos []string, allNS bool, output string) error {
	if len(pos) < 1 || len(pos) > 2 {
		return errors.New("usage: e2ectl get KIND [NAME] [-A] [-o json|jsonpath=TEMPLATE]")
	}
	cfg := restConfig()
	gvr, namespaced, err := resolve(cfg, pos[0])
	if err != nil {
		return err
	}
	ns := namespace
	if allNS || !namespaced {
		ns = ""
	}
	if output == "" {
		return getTable(ctx, cfg, gvr, namespaced, ns, pos[1:])
	}
	ri := dynClient().Resource(gvr).Namespace(ns)
	var obj interface{}
	if len(pos) == 2 {
		u, err := ri.Get(ctx, pos[1], metav1.GetOptions{})
		if err != nil {
			return err
		}
		obj = u.Object
	} else {
		l, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		obj = l.UnstructuredContent()
	}
	switch {
	case output == "json":
		b, _ := json.MarshalIndent(obj, "", "  ")
		fmt.Println(string(b))
	case strings.HasPrefix(output, "jsonpath="):
		jp := jsonpath.New("out").AllowMissingKeys(true)
		if err := jp.Parse(strings.TrimPrefix(output, "jsonpath=")); err != nil {
			return err
		}
		if err := jp.Execute(os.Stdout, obj); err != nil {
			return err
		}
		fmt.Println()
	default:
		return fmt.Errorf("unknown output %q", output)
	}
	return nil
}

// getTable prints the server-side Table (the CRDs' printer columns), as kubectl get does.
func getTable(ctx context.Context, cfg *rest.Config, gvr schema.GroupVersionResource, namespaced bool, ns string, name []string) error {
	path := "/apis/" + gvr.Group + "/" + gvr.Version
	if gvr.Group == "" {
		path = "/api/" + gvr.Version
	}
	if namespaced && ns != "" {
		path += "/namespaces/" + ns
	}
	path += "/" + gvr.Resource
	if len(name) == 1 {
		path += "/" + name[0]
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	req := cs.Discovery().RESTClient().Get().AbsPath(path).SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	body, err := req.DoRaw(ctx)
	if err != nil {
		return err
	}
	var t metav1.Table
	if err := json.Unmarshal(body, &t); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	var hdr []string
	if namespaced && ns == "" {
		hdr = append(hdr, "NAMESPACE")
	}
	for _, col := range t.ColumnDefinitions {
		if col.Priority == 0 {
			hdr = append(hdr, strings.ToUpper(col.Name))
		}
	}
	if len(t.Rows) == 0 {
		fmt.Println("No resources found")
		return nil
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	for _, r := range t.Rows {
		var cells []string
		if namespaced && ns == "" {
			var pm metav1.PartialObjectMetadata
			_ = json.Unmarshal(r.Object.Raw, &pm)
			cells = append(cells, pm.Namespace)
		}
		for i, col := range t.ColumnDefinitions {
			if col.Priority != 0 || i >= len(r.Cells) {
				continue
			}
			v := r.Cells[i]
			switch x := v.(type) {
			case nil:
				cells = append(cells, "")
			case string:
				cells = append(cells, x)
			case float64:
				cells = append(cells, fmt.Sprintf("%v", x))
			default:
				b, _ := json.Marshal(x)
				cells = append(cells, string(b))
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func deleteCmd(ctx context.Context, pos []string, ignoreNotFound bool) error {
	if len(pos) < 2 {
		return errors.New("usage: e2ectl delete KIND NAME...")
	}
	cfg := restConfig()
	gvr, namespaced, err := resolve(cfg, pos[0])
	if err != nil {
		return err
	}
	d := dynClient()
	for _, n := range pos[1:] {
		var ri dynamic.ResourceInterface = d.Resource(gvr)
		if namespaced {
			ri = d.Resource(gvr).Namespace(namespace)
		}
		err := ri.Delete(ctx, n, metav1.DeleteOptions{})
		if err != nil && !(ignoreNotFound && apierrors.IsNotFound(err)) {
			return err
		}
		fmt.Printf("%s \"%s\" deleted\n", gvr.GroupResource(), n)
	}
	return nil
}

// ---- kubectl stand-in (the subset config/validate.sh uses) ----

// kubectlShim implements: apply [--server-side] [--force-conflicts] [--field-manager=M]
// [--dry-run=server] -f FILE; wait --for=condition=Established [--timeout=Ns] crd/NAME...;
// delete [--ignore-not-found] [--wait=false] crd/NAME...; get KIND [NAME].
func kubectlShim(args []string) int {
	var sub string
	var files, rest []string
	o := applyOpts{fieldManager: "kubectl"}
	timeout := 60 * time.Second
	ignoreNF := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if j := strings.Index(a, "="); j >= 0 {
				return a[j+1:]
			}
			i++
			if i < len(args) {
				return args[i]
			}
			return ""
		}
		switch {
		case a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig="):
			kubeconfig = val()
		case a == "-n" || a == "--namespace" || strings.HasPrefix(a, "--namespace="):
			namespace = val()
		case a == "-f" || a == "--filename" || strings.HasPrefix(a, "--filename="):
			files = append(files, val())
		case a == "--field-manager" || strings.HasPrefix(a, "--field-manager="):
			o.fieldManager = val()
		case strings.HasPrefix(a, "--dry-run"):
			o.dryRun = strings.HasSuffix(a, "=server")
		case a == "--force-conflicts":
			o.force = true
		case a == "--ignore-not-found" || a == "--ignore-not-found=true":
			ignoreNF = true
		case strings.HasPrefix(a, "--timeout"):
			v := val()
			if d, err := time.ParseDuration(v); err == nil {
				timeout = d
			}
		case a == "--server-side" || strings.HasPrefix(a, "--wait") || strings.HasPrefix(a, "--for"):
			// server-side is the only apply we do; wait/for: only Established is supported
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(os.Stderr, "kubectl (e2ectl stand-in): unsupported flag %s\n", a)
			return 2
		case sub == "":
			sub = a
		default:
			rest = append(rest, a)
		}
	}
	ctx := context.Background()
	crdNames := func() []string {
		var n []string
		for _, r := range rest {
			n = append(n, strings.TrimPrefix(r, "crd/"))
		}
		return n
	}
	var err error
	switch sub {
	case "apply":
		if !o.force {
			o.force = true // kubectl's client-side apply overwrites; so do we
		}
		err = applyFiles(ctx, files, o, timeout)
	case "wait":
		err = newApplier().waitCRDs(ctx, crdNames(), timeout)
		if err == nil {
			for _, n := range crdNames() {
				fmt.Printf("customresourcedefinition.apiextensions.k8s.io/%s condition met\n", n)
			}
		}
	case "delete":
		err = deleteCmd(ctx, append([]string{"customresourcedefinitions"}, crdNames()...), ignoreNF)
	case "get":
		err = getCmd(ctx, rest, false, "")
	default:
		fmt.Fprintf(os.Stderr, "kubectl (e2ectl stand-in): unsupported command %q\n", sub)
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error from server: %v\n", err)
		return 1
	}
	return 0
}

// ---- quarantine and cascade containment ----

func listQuarantines(ctx context.Context, d dynamic.Interface, ns string) ([]unstructured.Unstructured, error) {
	l, err := d.Resource(qrGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func qrWorkload(u *unstructured.Unstructured) (kind, name string) {
	kind, _, _ = unstructured.NestedString(u.Object, "spec", "workload", "kind")
	name, _, _ = unstructured.NestedString(u.Object, "spec", "workload", "name")
	return
}

func qrSummary(u *unstructured.Unstructured) string {
	kind, name := qrWorkload(u)
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	var nodes []string
	ns, _, _ := unstructured.NestedSlice(u.Object, "status", "nodes")
	for _, n := range ns {
		if m, ok := n.(map[string]interface{}); ok {
			nodes = append(nodes, fmt.Sprint(m["name"]))
		}
	}
	tainted, _, _ := unstructured.NestedStringSlice(u.Object, "status", "taintedNodes")
	msg, _, _ := unstructured.NestedString(u.Object, "status", "message")
	return fmt.Sprintf("Quarantine %s/%s: %s/%s phase=%s nodes=[%s] tainted=[%s] %q", u.GetNamespace(), u.GetName(),
		kind, name, phase, strings.Join(nodes, ","), strings.Join(tainted, ","), msg)
}

// findQuarantine returns the Quarantine of workload app (any kind) in the namespace, or nil.
func findQuarantine(ctx context.Context, d dynamic.Interface, app string) (*unstructured.Unstructured, error) {
	items, err := listQuarantines(ctx, d, namespace)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if _, name := qrWorkload(&items[i]); name == app {
			return &items[i], nil
		}
	}
	return nil, nil
}

// expectQuarantine: with absent=false waits for a Quarantine of app; with absent=true
// checks (now) that there is none (app "" = none at all, in any namespace).
func expectQuarantine(ctx context.Context, app string, absent bool, timeout time.Duration) error {
	d := dynClient()
	if absent {
		items, err := listQuarantines(ctx, d, "")
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		for i := range items {
			if _, name := qrWorkload(&items[i]); app == "" || name == app {
				return fmt.Errorf("unexpected %s", qrSummary(&items[i]))
			}
		}
		fmt.Printf("no Quarantine%s\n", map[bool]string{true: "", false: " of " + app}[app == ""])
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		q, err := findQuarantine(ctx, d, app)
		if q != nil {
			fmt.Println(qrSummary(q))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no Quarantine of %s after %s (last error: %v)", app, timeout, err)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// nodeLossWatch records, from an informer, every node that was not Ready at some point.
type nodeLossWatch struct {
	mu    sync.Mutex
	lost  map[string]time.Time
	order []string
	inf   cache.SharedIndexInformer
}

func watchNodeLoss(ctx context.Context, cs kubernetes.Interface) *nodeLossWatch {
	w := &nodeLossWatch{lost: map[string]time.Time{}}
	factory := informers.NewSharedInformerFactory(cs, 0)
	w.inf = factory.Core().V1().Nodes().Informer()
	on := func(o interface{}) {
		n, ok := o.(*corev1.Node)
		if !ok || nodeReady(n) == corev1.ConditionTrue {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, seen := w.lost[n.Name]; !seen {
			w.lost[n.Name] = time.Now()
			w.order = append(w.order, n.Name)
		}
	}
	_, _ = w.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: on, UpdateFunc: func(_, o interface{}) { on(o) },
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return w
}

func (w *nodeLossWatch) nodes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.order...)
}

// expectContained waits for the Quarantine of app, then watches settle longer and fails if
// more than maxNodes nodes were lost (not Ready at any time since the verb started).
func expectContained(ctx context.Context, cs kubernetes.Interface, app string, maxNodes int, settle, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout+settle)
	defer cancel()
	start := time.Now()
	w := watchNodeLoss(ctx, cs)
	d := dynClient()
	deadline := start.Add(timeout)
	var q *unstructured.Unstructured
	for q == nil {
		var err error
		if q, err = findQuarantine(ctx, d, app); q != nil {
			break
		}
		if len(w.nodes()) > maxNodes {
			return fmt.Errorf("%d nodes lost (%s) before any Quarantine of %s (max %d)", len(w.nodes()),
				strings.Join(w.nodes(), ","), app, maxNodes)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no Quarantine of %s after %s (nodes lost: %s; last error: %v)", app, timeout,
				strings.Join(w.nodes(), ","), err)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	tq := time.Since(start)
	fmt.Printf("quarantine after %.1fs with %d nodes lost (%s)\n  %s\n", tq.Seconds(), len(w.nodes()),
		strings.Join(w.nodes(), ","), qrSummary(q))
	fmt.Printf("settling %s: no further node may be lost\n", settle)
	end := time.Now().Add(settle)
	for time.Now().Before(end) {
		if len(w.nodes()) > maxNodes {
			break
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	lost := w.nodes()
	fmt.Printf("nodes lost: %d (%s)\n", len(lost), strings.Join(lost, ","))
	if len(lost) > maxNodes {
		return fmt.Errorf("%d nodes lost, more than %d", len(lost), maxNodes)
	}
	return nil
}

// failedNodes prints the nodes whose Ready condition is not True, comma-separated.
func failedNodes(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range l.Items {
		if nodeReady(&l.Items[i]) != corev1.ConditionTrue {
			out = append(out, l.Items[i].Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ---- taints ----

func expectTaint(ctx context.Context, cs kubernetes.Interface, nodes []string, key string, absent bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		var bad []string
		if err == nil {
			want := map[string]bool{}
			for _, n := range nodes {
				want[n] = true
			}
			for i := range l.Items {
				n := &l.Items[i]
				if len(nodes) > 0 && !want[n.Name] {
					continue
				}
				has := ""
				for _, t := range n.Spec.Taints {
					if t.Key == key {
						has = fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect)
					}
				}
				if absent && has != "" {
					bad = append(bad, n.Name+" has "+has)
				} else if !absent && has == "" {
					bad = append(bad, n.Name+" lacks "+key)
				} else if !absent {
					fmt.Printf("node %s: %s\n", n.Name, has)
				}
			}
			if len(bad) == 0 {
				if absent {
					fmt.Printf("no node%s carries %s\n", map[bool]string{true: "", false: " of " + strings.Join(nodes, ",")}[len(nodes) == 0], key)
				}
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("after %s: %s", timeout, strings.Join(bad, "; "))
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// ---- Events ----

type evFilter struct {
	reason, kind, name, contains string
	anySource                    bool
}

func (f evFilter) match(e *corev1.Event) bool {
	if f.reason != "" && e.Reason != f.reason {
		return false
	}
	if f.kind != "" && e.InvolvedObject.Kind != f.kind {
		return false
	}
	if f.name != "" && e.InvolvedObject.Name != f.name && !strings.HasPrefix(e.InvolvedObject.Name, f.name+"-") {
		return false
	}
	if f.contains != "" && !strings.Contains(e.Message, f.contains) {
		return false
	}
	if !f.anySource && e.ReportingController != fbController && e.Source.Component != fbController {
		return false
	}
	return true
}

func eventLine(e *corev1.Event) string {
	n := e.Count
	if e.Series != nil && e.Series.Count > n {
		n = e.Series.Count
	}
	return fmt.Sprintf("%-7s %-22s %s/%s: %s (x%d)", e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message, max(n, 1))
}

// expectEvent waits until at least min Events match (absent: checks now that none does).
func expectEvent(ctx context.Context, cs kubernetes.Interface, f evFilter, minCount int, absent bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		l, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{})
		if err == nil {
			var hits []string
			for i := range l.Items {
				if f.match(&l.Items[i]) {
					hits = append(hits, eventLine(&l.Items[i]))
				}
			}
			if absent {
				if len(hits) > 0 {
					return fmt.Errorf("unexpected Events:\n  %s", strings.Join(hits, "\n  "))
				}
				fmt.Printf("no %s Event\n", f.reason)
				return nil
			}
			if len(hits) >= minCount {
				for _, h := range hits {
					fmt.Println("event:", h)
				}
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fewer than %d Events reason=%q kind=%q name=%q contains=%q after %s (err %v)",
				minCount, f.reason, f.kind, f.name, f.contains, timeout, err)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// ---- pods ----

func isDaemonOrMirror(p *corev1.Pod) bool {
	if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return true
	}
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller && o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

func podRunningReady(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReadyCond(p)
}

func podReadyCond(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// expectMoved: every pod on the given nodes (default: the failed nodes), except those of
// exceptApp, is terminating, and every Deployment that owned one has all its replicas
// Running and Ready on other nodes.
func expectMoved(ctx context.Context, cs kubernetes.Interface, nodes []string, exceptApp string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var problems []string
		moved := 0
		ns := nodes
		if len(ns) == 0 {
			var err error
			if ns, err = failedNodes(ctx, cs); err != nil {
				return err
			}
		}
		on := map[string]bool{}
		for _, n := range ns {
			on[n] = true
		}
		pl, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		apps := map[string]bool{}
		for i := range pl.Items {
			p := &pl.Items[i]
			if !on[p.Spec.NodeName] || isDaemonOrMirror(p) || (exceptApp != "" && p.Labels["app"] == exceptApp) {
				continue
			}
			apps[p.Labels["app"]] = true
			if p.DeletionTimestamp == nil {
				problems = append(problems, fmt.Sprintf("pod %s still on %s", p.Name, p.Spec.NodeName))
			} else {
				moved++
			}
		}
		for app := range apps {
			dep, err := cs.AppsV1().Deployments(namespace).Get(ctx, app, metav1.GetOptions{})
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			want := int(*dep.Spec.Replicas)
			got := 0
			for i := range pl.Items {
				p := &pl.Items[i]
				if p.Labels["app"] == app && !on[p.Spec.NodeName] && podRunningReady(p) {
					got++
				}
			}
			if got < want {
				problems = append(problems, fmt.Sprintf("%s: %d/%d Running elsewhere", app, got, want))
			}
		}
		if len(problems) == 0 {
			names := make([]string, 0, len(apps))
			for a := range apps {
				names = append(names, a)
			}
			sort.Strings(names)
			fmt.Printf("the %d pods of %s on %s left (terminating there); every replica of those apps is Running on other nodes\n",
				moved, strings.Join(names, ","), strings.Join(ns, ","))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %s", timeout, strings.Join(problems, "; "))
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// expectPinned: the app has at least one pod, every pod of it is on a failed node, none is
// terminating, and there are no more of them than the Deployment's replicas.
func expectPinned(ctx context.Context, cs kubernetes.Interface, app string) error {
	failed, err := failedNodes(ctx, cs)
	if err != nil {
		return err
	}
	isFailed := map[string]bool{}
	for _, n := range failed {
		isFailed[n] = true
	}
	pl, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return err
	}
	pinned := 0
	for i := range pl.Items {
		p := &pl.Items[i]
		switch {
		case p.DeletionTimestamp != nil && isFailed[p.Spec.NodeName]:
			// evicted before the verdict (e.g. from the first failed node): stuck terminating
			// on its dead node, as with a real dead kubelet
			fmt.Printf("pod %s of %s terminating on failed node %s (evicted before the quarantine)\n", p.Name, app, p.Spec.NodeName)
		case p.Spec.NodeName == "":
			return fmt.Errorf("pod %s of %s is pending (a replacement was created)", p.Name, app)
		case !isFailed[p.Spec.NodeName]:
			return fmt.Errorf("pod %s of %s is on healthy node %s", p.Name, app, p.Spec.NodeName)
		case p.DeletionTimestamp != nil:
			return fmt.Errorf("pod %s of %s on %s is terminating (evicted)", p.Name, app, p.Spec.NodeName)
		default:
			pinned++
			fmt.Printf("pod %s of %s pinned on failed node %s\n", p.Name, app, p.Spec.NodeName)
		}
	}
	if pinned == 0 {
		return fmt.Errorf("no pod of %s pinned on a failed node", app)
	}
	return nil
}

// podsOn returns the non-DaemonSet, non-mirror pods bound to node (optionally of app).
func podsOn(ctx context.Context, cs kubernetes.Interface, node, app string) ([]corev1.Pod, error) {
	opt := metav1.ListOptions{FieldSelector: "spec.nodeName=" + node}
	if app != "" {
		opt.LabelSelector = "app=" + app
	}
	pl, err := cs.CoreV1().Pods("").List(ctx, opt)
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for i := range pl.Items {
		if !isDaemonOrMirror(&pl.Items[i]) {
			out = append(out, pl.Items[i])
		}
	}
	return out, nil
}

// expectStay: for the whole duration, no pod on node (optionally of app) is deleted or
// terminating, and there is at least one.
func expectStay(ctx context.Context, cs kubernetes.Interface, nodes, app string, dur time.Duration) error {
	var pods []corev1.Pod
	for _, node := range strings.Split(nodes, ",") {
		on, err := podsOn(ctx, cs, node, app)
		if err != nil {
			return err
		}
		if len(on) == 0 {
			return fmt.Errorf("no pod on %s", node)
		}
		pods = append(pods, on...)
	}
	node := nodes
	end := time.Now().Add(dur)
	for {
		for i := range pods {
			p, err := cs.CoreV1().Pods(pods[i].Namespace).Get(ctx, pods[i].Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("pod %s on %s was deleted", pods[i].Name, node)
			}
			if err == nil && p.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s on %s is terminating (%s)", p.Name, node, disruptionReason(p))
			}
		}
		if time.Now().After(end) {
			break
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	fmt.Printf("the %d pods on %s stayed for %s\n", len(pods), node, dur)
	return nil
}

// expectEvicted measures, with watches, the time from the node's Ready transition (as
// observed; or its lastTransitionTime if it already happened) to each of its pods becoming
// terminating, and fails if the largest exceeds within.
func expectEvicted(ctx context.Context, cs kubernetes.Interface, node string, within, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pods, err := podsOn(ctx, cs, node, "")
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		return fmt.Errorf("no pod on %s", node)
	}
	want := map[types.UID]string{}
	for i := range pods {
		want[pods[i].UID] = pods[i].Namespace + "/" + pods[i].Name
	}
	var mu sync.Mutex
	var failedAt time.Time
	gone := map[types.UID]time.Time{}
	factory := informers.NewSharedInformerFactory(cs, 0)
	nodeInf := factory.Core().V1().Nodes().Informer()
	podInf := factory.Core().V1().Pods().Informer()
	onNode := func(o interface{}) {
		n, ok := o.(*corev1.Node)
		if !ok || n.Name != node || nodeReady(n) == corev1.ConditionTrue {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if failedAt.IsZero() {
			failedAt = time.Now()
			for _, c := range n.Status.Conditions {
				// Already failed before we started watching: take the recorded transition.
				if c.Type == corev1.NodeReady && time.Since(c.LastTransitionTime.Time) > 2*time.Second {
					failedAt = c.LastTransitionTime.Time
				}
			}
		}
	}
	onPod := func(o interface{}) {
		if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		p, ok := o.(*corev1.Pod)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, w := want[p.UID]; w && p.DeletionTimestamp != nil {
			if _, seen := gone[p.UID]; !seen {
				gone[p.UID] = time.Now()
			}
		}
	}
	_, _ = nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onNode, UpdateFunc: func(_, o interface{}) { onNode(o) }})
	_, _ = podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPod, UpdateFunc: func(_, o interface{}) { onPod(o) },
		DeleteFunc: func(o interface{}) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if p, ok := o.(*corev1.Pod); ok {
				mu.Lock()
				if _, seen := gone[p.UID]; !seen {
					gone[p.UID] = time.Now()
				}
				mu.Unlock()
			}
		},
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	for {
		mu.Lock()
		done := len(gone) >= len(want)
		mu.Unlock()
		if done {
			break
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Errorf("only %d/%d pods of %s left it within %s (node failed: %v)", len(gone), len(want), node, timeout, !failedAt.IsZero())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var worst time.Duration
	for uid, t := range gone {
		lat := t.Sub(failedAt)
		fmt.Printf("  %-40s terminating %.1fs after %s's Ready transition\n", want[uid], lat.Seconds(), node)
		if lat > worst {
			worst = lat
		}
	}
	fmt.Printf("eviction latency after the Ready transition of %s: max %.2fs over %d pods (limit %s)\n",
		node, worst.Seconds(), len(want), within)
	if within > 0 && worst > within {
		return fmt.Errorf("eviction took %.2fs, more than %s", worst.Seconds(), within)
	}
	return nil
}

// waitJSONPath polls KIND NAME until the JSONPath template renders equals.
func waitJSONPath(ctx context.Context, pos []string, tmpl, equals string, timeout time.Duration) error {
	if len(pos) != 2 {
		return errors.New("usage: e2ectl wait-for KIND NAME --jsonpath TEMPLATE --equals VALUE")
	}
	cfg := restConfig()
	gvr, namespaced, err := resolve(cfg, pos[0])
	if err != nil {
		return err
	}
	jp := jsonpath.New("w").AllowMissingKeys(true)
	if err := jp.Parse(tmpl); err != nil {
		return err
	}
	d := dynClient()
	var ri dynamic.ResourceInterface = d.Resource(gvr)
	if namespaced {
		ri = d.Resource(gvr).Namespace(namespace)
	}
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		u, err := ri.Get(ctx, pos[1], metav1.GetOptions{})
		if err == nil {
			var b bytes.Buffer
			if err := jp.Execute(&b, u.Object); err == nil {
				last = b.String()
				if last == equals {
					fmt.Printf("%s %s %s = %s\n", pos[0], pos[1], tmpl, last)
					return nil
				}
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s %s %s = %q, want %q after %s", pos[0], pos[1], tmpl, last, equals, timeout)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// watchQuarantines polls Quarantine objects for the timeline (the CRD may appear later).
func watchQuarantines(ctx context.Context, r *recorder) {
	d := dynClient()
	seen := map[string]string{}
	for {
		if items, err := listQuarantines(ctx, d, ""); err == nil {
			now := map[string]bool{}
			for i := range items {
				u := &items[i]
				key := u.GetNamespace() + "/" + u.GetName()
				now[key] = true
				s := qrSummary(u)
				if prev, ok := seen[key]; !ok {
					r.emitSrc("quarantn", "quarantine %s created: %s", key, s)
				} else if prev != s {
					r.emitSrc("quarantn", "quarantine %s changed: %s", key, s)
				}
				seen[key] = s
			}
			for k := range seen {
				if !now[k] {
					r.emitSrc("quarantn", "quarantine %s deleted", k)
					delete(seen, k)
				}
			}
		}
		if sleepCtx(ctx, 500*time.Millisecond) != nil {
			return
		}
	}
}

// watchFirebreakEvents adds firebreak's Events (reportingController firebreak.dev/firebreak)
// to the timeline, each series once plus its count when it grows.
func watchFirebreakEvents(factory informers.SharedInformerFactory, r *recorder) {
	inf := factory.Core().V1().Events().Informer()
	counts := map[types.UID]int32{}
	var mu sync.Mutex
	on := func(o interface{}) {
		e, ok := o.(*corev1.Event)
		if !ok || (e.ReportingController != fbController && e.Source.Component != fbController) {
			return
		}
		n := max(e.Count, 1)
		if e.Series != nil && e.Series.Count > n {
			n = e.Series.Count
		}
		mu.Lock()
		prev, seen := counts[e.UID]
		counts[e.UID] = n
		mu.Unlock()
		if !seen {
			r.emitSrc("event", "%s %s %s/%s: %s", e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
		} else if n > prev {
			r.emitSrc("event", "%s %s %s/%s: (x%d)", e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, n)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: on, UpdateFunc: func(_, o interface{}) { on(o) }})
}
