# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Release (issue 12): the quarantined poison is scaled up (new pods gated), then fixed by its
# owner (a rollout without the poison; its pods are gated too, the quarantine still holds), and
# the Quarantine is deleted. Its finalizer firebreak.dev/release keeps it until firebreak has
# removed the gate from every pod and the taints from the nodes; then it goes, and the pods
# schedule.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="Quarantine deleted: gates and taints removed, gated pods schedule, then the object goes"

scenario_run() {
  # shellcheck source=../gate.sh
  source "${E2E_DIR}/gate.sh"
  local lost
  gate_start
  gate_cascade poison
  lost="$(e2ectl failed-nodes)"
  e2ectl wait-for quarantine deployment-poison --jsonpath '{.metadata.finalizers[0]}' --equals firebreak.dev/release --timeout 20s
  step "scale up, then fix the workload (a rollout without the poison): every new pod gated"
  e2ectl deploy poison --replicas 3 --poison
  e2ectl expect-gated --app poison --count 2 --timeout 30s
  e2ectl deploy poison --replicas 3
  e2ectl expect-gated --app poison --count 1 --timeout 30s
  gate_holds poison
  step "delete the Quarantine"
  e2ectl delete quarantine deployment-poison
  e2ectl expect-scheduled --app poison --count 3 --timeout 60s
  e2ectl expect-event --reason QuarantineUngated --kind Pod --name poison --timeout 30s
  e2ectl expect-taint --node "${lost}" --key firebreak.dev/quarantine --absent --timeout 30s
  local i
  for i in $(seq 1 40); do
    e2ectl expect-quarantine --app poison --absent >/dev/null 2>&1 && break
    sleep 0.5
  done
  e2ectl expect-quarantine --app poison --absent
  summary result PASS
  summary released "gates and taints removed, then the finalizer; $(e2ectl get pods -o 'jsonpath={range .items[?(@.metadata.labels.app=="poison")]}{.spec.nodeName}{" "}{end}')"
}
