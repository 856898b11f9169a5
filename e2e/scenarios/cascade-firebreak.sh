# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# The cluster and poison Deployment of cascade-baseline, with firebreak in charge of eviction:
# the poison kills its first node, firebreak evicts its pods (the poison pod included: one
# failure proves nothing), the poison kills the second node, and firebreak declares it poison:
# Quarantine object, Events, the two nodes tainted firebreak.dev/quarantine, the poison pod
# pinned on the second node. The innocent pods of both nodes run elsewhere; no third node dies.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="poison Deployment (1 replica) quarantined after 2 nodes; innocent pods moved"

scenario_run() {
  need_firebreak
  step "apply CRDs, start firebreak"
  apply_crds
  start_firebreak firebreak 18080 --leader-elect=false
  deploy_innocent 4
  step "deploy poison"
  local t0=${SECONDS} lost q
  e2ectl deploy poison --replicas 1 --poison
  # A third loss would come ~28 s after the second (toleration 10 s + poison 10 s + grace 8 s).
  e2ectl expect-contained --app poison --max-nodes 2 --settle 40s --timeout 150s
  lost="$(e2ectl failed-nodes)"
  step "check quarantine, taints, Events, pods"
  e2ectl get quarantines -A | tee "${LOG_DIR}/quarantines.txt"
  e2ectl expect-taint --node "${lost}" --key firebreak.dev/quarantine
  e2ectl expect-event --reason Quarantined --kind Deployment --name poison
  e2ectl expect-event --reason NodeQuarantined --kind Node --count 2
  e2ectl expect-event --reason Pinned --kind Pod --name poison
  e2ectl expect-pinned --app poison
  e2ectl expect-moved --node "${lost}" --except-app poison --timeout 30s
  q="$(e2ectl get quarantines -o 'jsonpath={.items[0].metadata.namespace}/{.items[0].metadata.name}')"
  summary result PASS
  summary nodes_lost "$(tr ',' '\n' <<<"${lost}" | grep -c .)"
  summary lost_nodes "${lost}"
  summary poison "pinned on $(e2ectl get pods -o 'jsonpath={range .items[?(@.metadata.labels.app=="poison")]}{.metadata.deletionTimestamp}{"/"}{.spec.nodeName}{" "}{end}' | tr ' ' '\n' | sed -n 's#^/##p' | paste -sd,), no replacement"
  summary innocent "evicted by firebreak, Running elsewhere"
  summary quarantine "${q} (Deployment poison)"
  summary observed "$((SECONDS - t0)) s after the poison was deployed"
}
