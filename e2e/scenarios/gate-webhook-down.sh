# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# The webhook unavailable (issue 12): the MutatingWebhookConfiguration points at a port where
# nothing answers (every firebreak replica down, a network partition). failurePolicy Ignore: pods
# are still created, ungated. firebreak, still deciding, finds the new pods of the quarantined
# workload (QuarantineEscaped on the pod and the Deployment, the escaped-pods metric) and deletes
# them, so that their replacements go through admission again. Innocent workloads are never
# quarantined, whatever the escaped poison does.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="no webhook answers: pods still created; firebreak reports and deletes the escapes"

scenario_run() {
  # shellcheck source=../gate.sh
  source "${E2E_DIR}/gate.sh"
  need_firebreak
  step "apply CRDs, a webhook configuration nobody serves, firebreak without its webhook"
  apply_crds
  install_webhook 19999
  start_firebreak firebreak 18080 --leader-elect=false
  gate_cascade poison
  step "scale the quarantined Deployment from 1 to 3 while no webhook answers"
  e2ectl deploy poison --replicas 3 --poison
  e2ectl expect-event --reason QuarantineEscaped --kind Pod --name poison --timeout 30s
  e2ectl expect-event --reason QuarantineEscaped --kind Deployment --name poison --timeout 30s
  local deleted
  for _ in $(seq 1 20); do
    deleted="$(curl -fsS http://127.0.0.1:18080/metrics | awk '$1 == "firebreak_quarantine_escapes_deleted_total" {print $2}')"
    [[ "${deleted:-0}" != 0 ]] && break
    sleep 0.5
  done
  [[ "${deleted:-0}" != 0 ]] || { echo "firebreak_quarantine_escapes_deleted_total stayed 0" >&2; return 1; }
  e2ectl expect-quarantine --app web --absent
  e2ectl expect-quarantine --app api --absent
  summary result PASS
  summary escapes_deleted "${deleted}"
  summary nodes_lost "$(e2ectl failed-nodes | tr ',' '\n' | grep -c .)"
}
