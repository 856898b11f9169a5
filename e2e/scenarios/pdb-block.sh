# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# A PodDisruptionBudget (maxUnavailable 0) guards an innocent app; an EvictionBudget sets
# podEviction.pdbBlockedTimeout 20s. Its node fails: the Eviction API refuses (429),
# firebreak reports EvictionBlocked, keeps retrying, and deletes the pod after ~20 s
# (DeletedAfterPDBTimeout).
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="PDB blocks the eviction: EvictionBlocked, then deleted after the 20 s timeout"

scenario_run() {
  need_firebreak
  step "apply CRDs, budget and PDB, start firebreak"
  apply_crds
  e2ectl apply - <<'YAML'
apiVersion: firebreak.dev/v1alpha1
kind: EvictionBudget
metadata:
  name: pdb-timeout
spec:
  podEviction: {mode: Evict, pdbBlockedTimeout: 20s}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: guarded
  namespace: default
spec:
  maxUnavailable: 0
  selector:
    matchLabels: {app: guarded}
YAML
  start_firebreak firebreak 18080 --leader-elect=false
  step "deploy guarded app"
  e2ectl deploy guarded --replicas 1
  e2ectl rollout guarded --timeout 60s
  local node pod t_block t_del
  node="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="guarded")].spec.nodeName}')"
  pod="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="guarded")].metadata.name}')"
  step "fail ${node} (runs ${pod})"
  fail_node "${node}"
  e2ectl expect-event --reason EvictionBlocked --kind Pod --name "${pod}" --timeout 45s
  t_block=${SECONDS}
  e2ectl expect-event --reason DeletedAfterPDBTimeout --kind Pod --name "${pod}" --timeout 45s
  t_del=${SECONDS}
  echo "deleted $((t_del - t_block)) s after the first EvictionBlocked Event was seen"
  ((t_del - t_block >= 15)) || { echo "deleted too early" >&2; return 1; }
  e2ectl expect-moved --node "${node}" --timeout 30s
  summary pdb_blocked_then_deleted "$((t_del - t_block)) s (timeout 20 s)"
}
