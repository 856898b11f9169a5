# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Dry run in managed mode (issue 13): firebreak evicts nothing there, so a pod it covered would be
# evicted by no one. It gives such pods their seconds back, and Kubernetes' taint-eviction
# controller evicts them as it would without firebreak.
#  1. firebreak --managed covers every pod.
#  2. An EvictionBudget with dryRun selects zone-c (node-3, node-6): the pods there get their
#     10 s back (read from the API server: firebreak keeps no tolerations of covered pods), the
#     others stay covered.
#  3. node-3 (dry-run budget) and node-1 (none) fail: node-3's pods are deleted by the
#     taint-eviction controller at its 10 s, node-1's evicted by firebreak, none by Kubernetes.
#  4. firebreak restarted with --managed --dry-run: every pod gets its seconds back, none is
#     covered again, and a pod created now is left as the API server made it. node-5, failed
#     meanwhile, has its pods given back with the seconds left of their 10 (the whole 10 kept
#     aside), which they get back once node-5 is up again.
SCENARIO_MODE=managed
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="managed dry run (global, or a budget's nodes): covered pods get their seconds back"

scenario_run() {
  need_firebreak
  step "1. firebreak --managed covers every pod"
  managed_covering fb-managed

  step "2. a dry-run EvictionBudget selects zone-c: its nodes' pods get their seconds back"
  local t0=${SECONDS}
  e2ectl apply - <<'YAML'
apiVersion: firebreak.dev/v1alpha1
kind: EvictionBudget
metadata:
  name: canary
spec:
  dryRun: true
  nodeSelector: {matchLabels: {topology.kubernetes.io/zone: zone-c}}
  windows:
  - {maxNodes: 10, window: 1h}
YAML
  e2ectl expect-restored --node node-3,node-6 --seconds 10 --count 1 --timeout 30s
  summary budget_given_back "zone-c's pods back to 10 s within $((SECONDS - t0)) s of the budget"
  e2ectl expect-covered --node node-1,node-2,node-4,node-5 --seconds 10 --count 1 --timeout 5s

  step "3. node-3 (dry-run budget) and node-1 fail"
  fail_node node-3
  fail_node node-1
  e2ectl expect-evicted --node node-3 --within 12s --timeout 60s
  e2ectl expect-evicted --node node-1 --within 12s --timeout 60s
  summary node3 "$(terminated_on node-3)"
  summary node1 "$(terminated_on node-1)"
  [[ "$(terminated_on node-3)" =~ ^\ *[0-9]+\ DeletionByTaintManager$ ]] ||
    { echo "node-3's pods were not all deleted by the taint-eviction controller: $(terminated_on node-3)" >&2; return 1; }
  [[ "$(terminated_on node-1)" != *DeletionByTaintManager* ]] ||
    { echo "the taint-eviction controller deleted node-1's covered pods" >&2; return 1; }
  # node-3's pods are Kubernetes' (given back): firebreak reports the node only
  e2ectl expect-event --kind Node --name node-3 --contains "(dry run)" --timeout 10s

  step "4. firebreak --managed --dry-run: every pod gets its seconds back"
  stop_proc fb-managed
  # node-5 fails while its pods are covered and no firebreak runs: given back in dry run,
  # they get the seconds left of their 10 (Kubernetes' clock starts at the update), the
  # whole 10 s kept aside, and back once node-5 is up again
  fail_node node-5
  e2ectl wait-for node node-5 --jsonpath '{.status.conditions[?(@.type=="Ready")].status}' \
    --equals Unknown --timeout 30s
  local pod5
  pod5="$(e2ectl get pods -o 'jsonpath={range .items[?(@.spec.nodeName=="node-5")]}{.metadata.name}{"\n"}{end}' | head -1)"
  [[ -n "${pod5}" ]] || { echo "no pod on node-5" >&2; return 1; }
  sleep 3 # so that seconds are gone (the seconds left are rounded up)
  t0=${SECONDS}
  start_firebreak fb-dry 18080 --webhook 19443 --managed --dry-run --leader-elect=false
  e2ectl wait-for pod "${pod5}" --jsonpath '{.metadata.annotations.firebreak\.dev/toleration-seconds-full}' \
    --equals 'not-ready=10,unreachable=10' --timeout 10s
  local left
  left="$(e2ectl get pod "${pod5}" -o 'jsonpath={.spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}')"
  summary shortened "${pod5} on failed node-5 given back with ${left} s left of its 10, the 10 kept aside"
  ((left < 10)) || { echo "${pod5} got ${left} s, not the seconds left" >&2; return 1; }
  revive_node node-5
  e2ectl wait-for pod "${pod5}" --jsonpath '{.metadata.annotations.firebreak\.dev/toleration-seconds-full}' \
    --equals '' --timeout 20s
  e2ectl expect-restored --node node-5 --seconds 10 --count 1 --timeout 20s
  summary lengthened "node-5 up again: its pods back to their whole 10 s"
  e2ectl expect-restored --seconds 10 --count 8 --timeout 30s
  summary dry_run_given_back "every pod back to 10 s within $((SECONDS - t0)) s of the start in dry run"
  grep -q 'managed mode in dry run' "${LOG_DIR}/fb-dry.log"
  e2ectl deploy late --replicas 2
  e2ectl rollout late --timeout 60s
  e2ectl expect-restored --app late --seconds 10 --count 2 --timeout 5s
}
