# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Release: after a quarantine, deleting the Quarantine object makes firebreak remove the
# taints it added and resume normal eviction: the pinned poison pod is evicted and the
# Deployment runs again on a healthy node (where, this being the poison, it would kill the
# node 10 s later; the scenario ends before that matters).
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="deleting the Quarantine removes the taints and lets the workload run again"

scenario_run() {
  need_firebreak
  step "apply CRDs, start firebreak"
  apply_crds
  start_firebreak firebreak 18080 --leader-elect=false
  step "deploy web and poison"
  e2ectl deploy web --replicas 4
  e2ectl rollout web --timeout 60s
  e2ectl deploy poison --replicas 1 --poison
  e2ectl expect-quarantine --app poison --timeout 120s
  local lost pinned q
  lost="$(e2ectl failed-nodes)"
  e2ectl expect-taint --node "${lost}" --key firebreak.dev/quarantine --timeout 10s
  # Release once the pin is in force (the poison pod's toleration expired and it stayed).
  e2ectl expect-event --reason Pinned --kind Pod --name poison --timeout 30s
  e2ectl expect-pinned --app poison
  pinned="$(e2ectl get pods -o 'jsonpath={range .items[?(@.metadata.labels.app=="poison")]}{.metadata.deletionTimestamp}{"/"}{.spec.nodeName}{" "}{end}' | tr ' ' '\n' | sed -n 's#^/##p' | head -n1)"
  q="$(e2ectl get quarantines -o 'jsonpath={.items[0].metadata.name}')"
  step "delete Quarantine ${q} (poison pinned on ${pinned})"
  e2ectl delete quarantine "${q}"
  e2ectl expect-taint --key firebreak.dev/quarantine --absent --timeout 15s
  e2ectl expect-event --reason QuarantineReleased --kind Node --count 2 --timeout 15s
  e2ectl expect-moved --node "${pinned}" --timeout 30s
}
