package main

// Managed mode's verbs (issue 13): firebreak's webhook covers pods' not-ready/unreachable
// NoExecute tolerations (no tolerationSeconds; the old seconds in the annotation
// firebreak.dev/toleration-seconds), so that Kubernetes' taint-eviction controller never evicts
// them, and gives them back when the mode is turned off or firebreak uninstalled.
//
//	e2ectl expect-covered [--app A] [--seconds S] [--count N] [--timeout]
//	        every live pod of the namespace (of A) but DaemonSet and mirror pods is covered
//	        (and at least N are); with --seconds its record says S for both keys
//	e2ectl expect-restored [--app A] [--seconds S] [--timeout]
//	        no pod carries the annotation any more, and each tolerates both failure taints
//	        for a finite time again (S seconds, with --seconds)
//	e2ectl coverage [-A]                      print "covered=N uncovered=M" (one poll)
//	e2ectl wait-covered --count N [--timeout] [-A]
//	        wait until N pods are covered; print the time it took from the first poll and
//	        the covered count every 5 s (the adoption bench)

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const tolerationAnnotation = "firebreak.dev/toleration-seconds"

// tolerates is v1.Toleration.ToleratesTaint for the value-less NoExecute taint key.
func tolerates(t *corev1.Toleration, key string) bool {
	if t.Effect != "" && t.Effect != corev1.TaintEffectNoExecute {
		return false
	}
	if t.Key != "" && t.Key != key {
		return false
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		return t.Value == ""
	case corev1.TolerationOpExists:
		return true
	}
	return false
}

// tolerationSeconds is what the taint-eviction controller takes for key: the first matching
// toleration's seconds; -1 forever, -2 none (evicted at once).
func tolerationSeconds(p *corev1.Pod, key string) int64 {
	for i := range p.Spec.Tolerations {
		t := &p.Spec.Tolerations[i]
		if tolerates(t, key) {
			if t.TolerationSeconds == nil {
				return -1
			}
			if *t.TolerationSeconds < 0 {
				return 0
			}
			return *t.TolerationSeconds
		}
	}
	return -2
}

func exempt(p *corev1.Pod) bool {
	if _, mirror := p.Annotations["kubernetes.io/config.mirror"]; mirror {
		return true
	}
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller && o.Kind == "DaemonSet" {
			return true
		}
	}
	return p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// record parses the annotation: key -> seconds.
func record(p *corev1.Pod) (map[string]int64, bool) {
	v, ok := p.Annotations[tolerationAnnotation]
	if !ok {
		return nil, false
	}
	m := map[string]int64{}
	for _, kv := range strings.Split(v, ",") {
		k, s, found := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(s, 10, 64)
		if !found || err != nil {
			return nil, true
		}
		m[k] = n
	}
	return m, true
}

// covered: Kubernetes never evicts it (both keys forever), and the record is there.
func covered(p *corev1.Pod, seconds int64) error {
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if s := tolerationSeconds(p, key); s != -1 {
			return fmt.Errorf("pod %s tolerates %s for %ds", p.Name, key, s)
		}
	}
	rec, ok := record(p)
	if !ok {
		return fmt.Errorf("pod %s has no %s annotation", p.Name, tolerationAnnotation)
	}
	if seconds >= 0 && (rec["not-ready"] != seconds || rec["unreachable"] != seconds) {
		return fmt.Errorf("pod %s records %q, want %d for both keys", p.Name, p.Annotations[tolerationAnnotation], seconds)
	}
	return nil
}

func restored(p *corev1.Pod, seconds int64) error {
	if _, ok := p.Annotations[tolerationAnnotation]; ok {
		return fmt.Errorf("pod %s still carries %s=%q", p.Name, tolerationAnnotation, p.Annotations[tolerationAnnotation])
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		s := tolerationSeconds(p, key)
		if s < 0 || (seconds >= 0 && s != seconds) {
			return fmt.Errorf("pod %s tolerates %s for %d s, want %d", p.Name, key, s, seconds)
		}
	}
	return nil
}

func listLive(ctx context.Context, cs kubernetes.Interface, ns, app string) ([]corev1.Pod, error) {
	opt := metav1.ListOptions{}
	if app != "" {
		opt.LabelSelector = "app=" + app
	}
	pl, err := cs.CoreV1().Pods(ns).List(ctx, opt)
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for i := range pl.Items {
		if !exempt(&pl.Items[i]) {
			out = append(out, pl.Items[i])
		}
	}
	return out, nil
}

// expectAll waits until every live pod (of app, on node; "" = any) passes check, and there are
// at least n of them.
func expectAll(ctx context.Context, cs kubernetes.Interface, app, node string, n int, timeout time.Duration,
	what string, check func(*corev1.Pod) error) error {
	deadline := time.Now().Add(timeout)
	for {
		all, err := listLive(ctx, cs, namespace, app)
		if err != nil {
			return err
		}
		var pods []corev1.Pod
		for i := range all {
			if node == "" || slices.Contains(strings.Split(node, ","), all[i].Spec.NodeName) {
				pods = append(pods, all[i])
			}
		}
		var bad error
		for i := range pods {
			if err := check(&pods[i]); err != nil {
				bad = err
				break
			}
		}
		if bad == nil && len(pods) >= n {
			fmt.Printf("%d pod(s) %s\n", len(pods), what)
			return nil
		}
		if time.Now().After(deadline) {
			if bad == nil {
				bad = fmt.Errorf("%d pod(s), want >= %d", len(pods), n)
			}
			return fmt.Errorf("after %s: %w", timeout, bad)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

func expectCovered(ctx context.Context, cs kubernetes.Interface, app, node string, seconds int64, n int, timeout time.Duration) error {
	return expectAll(ctx, cs, app, node, n, timeout, "covered", func(p *corev1.Pod) error { return covered(p, seconds) })
}

func expectRestored(ctx context.Context, cs kubernetes.Interface, app, node string, seconds int64, n int, timeout time.Duration) error {
	return expectAll(ctx, cs, app, node, n, timeout, "restored", func(p *corev1.Pod) error { return restored(p, seconds) })
}

func coverage(ctx context.Context, cs kubernetes.Interface, ns string) (int, int, error) {
	pods, err := listLive(ctx, cs, ns, "")
	if err != nil {
		return 0, 0, err
	}
	c := 0
	for i := range pods {
		if covered(&pods[i], -1) == nil {
			c++
		}
	}
	return c, len(pods) - c, nil
}

func waitCovered(ctx context.Context, cs kubernetes.Interface, ns string, n int, timeout time.Duration) error {
	start := time.Now()
	last := time.Time{}
	for {
		c, u, err := coverage(ctx, cs, ns)
		if err != nil {
			return err
		}
		if time.Since(last) >= 5*time.Second {
			fmt.Printf("t=%.0fs covered=%d uncovered=%d\n", time.Since(start).Seconds(), c, u)
			last = time.Now()
		}
		if c >= n {
			fmt.Printf("covered %d pods in %.1f s (uncovered left: %d)\n", c, time.Since(start).Seconds(), u)
			return nil
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("after %s: covered=%d uncovered=%d, want %d covered", timeout, c, u, n)
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
}
