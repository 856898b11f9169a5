# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# What the webhook costs pod creation (issue 12), side by side in one run: bursts of pod
# CREATEs, alternating between a namespace the webhook is called for ("default") and one its
# namespaceSelector leaves out ("webhook-off"), 250 pods at a time, 1,000 each in all. The pods
# never schedule (a node selector nothing matches): only admission and storage are timed.
SCENARIO_MODE=firebreak
SCENARIO_NODES=2
SCENARIO_DESCRIPTION="benchmark: p50/p99 pod CREATE latency with the webhook on and off"

scenario_run() {
  # shellcheck source=../gate.sh
  source "${E2E_DIR}/gate.sh"
  need_firebreak
  apply_crds
  install_webhook "${GATE_WEBHOOK_PORT}" --set 'webhook.excludeNamespaces={webhook-off}'
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: webhook-off\n' >"${RUN_DIR}/ns-off.yaml"
  e2ectl apply "${RUN_DIR}/ns-off.yaml" --field-manager e2e
  start_firebreak firebreak 18080 --webhook "${GATE_WEBHOOK_PORT}" --leader-elect=false
  e2ectl expect-webhook "${FB_WEBHOOK_RELEASE}" --timeout 30s
  local round
  for round in 1 2 3 4; do
    e2ectl create-pods --count 250 -n webhook-off --label "off (round ${round})" | tee -a "${LOG_DIR}/bench.txt"
    e2ectl create-pods --count 250 -n default --label "on  (round ${round})" | tee -a "${LOG_DIR}/bench.txt"
  done
  curl -fsS http://127.0.0.1:18080/metrics | grep -E '^firebreak_webhook' | tee -a "${LOG_DIR}/bench.txt" || true
  summary result PASS
}
