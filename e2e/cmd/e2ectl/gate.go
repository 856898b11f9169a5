package main

// The quarantine gate's verbs (issue 12): new pods of a quarantined workload wait Pending
// behind the scheduling gate firebreak.dev/quarantine that firebreak's admission webhook adds
// at CREATE, and are released when the Quarantine goes.
//
//	e2ectl delete-pods --app A [--force]     delete every pod of A (--force: grace period 0,
//	                                         as an operator does for pods on a dead node)
//	e2ectl expect-gated --app A --count N [--timeout]
//	                                         at least N pods of A are Pending with the gate and
//	                                         unbound; no pod of A created since is on a healthy
//	                                         node without it
//	e2ectl expect-scheduled --app A [--count N] [--timeout]
//	                                         no pod of A carries the gate any more, and at least
//	                                         N of them are bound to a node
//	e2ectl expect-webhook NAME [--timeout]   every webhook of the configuration has a caBundle
//	e2ectl create-pods --count N [--keep]    create N bare pods (generateName) in the namespace,
//	                                         print the p50/p99/max latency of the CREATE calls,
//	                                         delete them again (unless --keep)

import (
	"context"
	"fmt"
	"sort"

	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

const quarantineGate = "firebreak.dev/quarantine"

func hasGate(p *corev1.Pod) bool {
	for _, g := range p.Spec.SchedulingGates {
		if g.Name == quarantineGate {
			return true
		}
	}
	return false
}

func deletePods(ctx context.Context, cs kubernetes.Interface, app string, force bool) error {
	pl, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return err
	}
	opt := metav1.DeleteOptions{}
	if force {
		opt.GracePeriodSeconds = ptr.To[int64](0)
	}
	for i := range pl.Items {
		p := &pl.Items[i]
		if err := cs.CoreV1().Pods(namespace).Delete(ctx, p.Name, opt); err != nil {
			return fmt.Errorf("delete pod %s: %w", p.Name, err)
		}
		fmt.Printf("deleted pod %s (node %q)\n", p.Name, p.Spec.NodeName)
	}
	return nil
}

// expectGated waits until at least n pods of app are gated, Pending and unbound. Pods of app
// bound to a healthy node that were created after the first gated one fail it at once: the
// gate must hold every new pod.
func expectGated(ctx context.Context, cs kubernetes.Interface, app string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		failed, err := failedNodes(ctx, cs)
		if err != nil {
			return err
		}
		isFailed := map[string]bool{}
		for _, f := range failed {
			isFailed[f] = true
		}
		pl, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return err
		}
		gated := 0
		var firstGated time.Time
		for i := range pl.Items {
			p := &pl.Items[i]
			if hasGate(p) {
				if p.Spec.NodeName != "" {
					return fmt.Errorf("pod %s carries the gate but is bound to %s", p.Name, p.Spec.NodeName)
				}
				if firstGated.IsZero() || p.CreationTimestamp.Time.Before(firstGated) {
					firstGated = p.CreationTimestamp.Time
				}
				gated++
			}
		}
		for i := range pl.Items {
			p := &pl.Items[i]
			if !hasGate(p) && !firstGated.IsZero() && p.CreationTimestamp.Time.After(firstGated) &&
				p.Spec.NodeName != "" && !isFailed[p.Spec.NodeName] && p.DeletionTimestamp == nil {
				return fmt.Errorf("pod %s of %s, created after the gate held others, runs ungated on healthy node %s",
					p.Name, app, p.Spec.NodeName)
			}
		}
		if gated >= n {
			fmt.Printf("%d pod(s) of %s held by %s (SchedulingGated)\n", gated, app, quarantineGate)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d pod(s) of %s gated after %s, want %d", gated, app, timeout, n)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

func expectScheduled(ctx context.Context, cs kubernetes.Interface, app string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pl, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return err
		}
		gated, bound := 0, 0
		for i := range pl.Items {
			p := &pl.Items[i]
			if hasGate(p) {
				gated++
			} else if p.Spec.NodeName != "" && p.DeletionTimestamp == nil {
				bound++
			}
		}
		if gated == 0 && bound >= n {
			fmt.Printf("no pod of %s gated; %d bound\n", app, bound)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %d pod(s) of %s still gated, %d bound (want >= %d)", timeout, gated, app, bound, n)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// createPods creates n bare pods one after another and prints the latency of the CREATE
// calls (what an admission webhook adds to every pod creation), then deletes them.
func createPods(ctx context.Context, cs kubernetes.Interface, n int, label string, keep bool) error {
	lat := make([]time.Duration, 0, n)
	var names []string
	for i := 0; i < n; i++ {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "burst-", Labels: map[string]string{"app": "burst"}},
			Spec: corev1.PodSpec{
				// never scheduled: the burst measures admission, not the scheduler or nodes
				NodeSelector: map[string]string{"firebreak.dev/e2e-burst": "none"},
				Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("1m")}}}},
			},
		}
		t0 := time.Now()
		got, err := cs.CoreV1().Pods(namespace).Create(ctx, p, metav1.CreateOptions{})
		lat = append(lat, time.Since(t0))
		if err != nil {
			return fmt.Errorf("create pod %d: %w", i, err)
		}
		names = append(names, got.Name)
	}
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	q := func(f float64) time.Duration { return sorted[int(f*float64(len(sorted)-1))] }
	fmt.Printf("pod-create %s: n=%d p50=%.2fms p99=%.2fms max=%.2fms\n", label, n,
		ms(q(0.50)), ms(q(0.99)), ms(sorted[len(sorted)-1]))
	for _, name := range names {
		if keep {
			break
		}
		_ = cs.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// expectWebhook waits until every webhook of the MutatingWebhookConfiguration name carries a
// caBundle (firebreak's certificate manager writes it: the API server can then verify the
// webhook's serving certificate).
func expectWebhook(ctx context.Context, cs kubernetes.Interface, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		ready := err == nil && len(c.Webhooks) > 0
		for i := 0; ready && i < len(c.Webhooks); i++ {
			ready = len(c.Webhooks[i].ClientConfig.CABundle) > 0
		}
		if ready {
			fmt.Printf("mutatingwebhookconfiguration %s: caBundle in place (%d bytes)\n", name,
				len(c.Webhooks[0].ClientConfig.CABundle))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mutatingwebhookconfiguration %s has no caBundle after %s (err %v)", name, timeout, err)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}
