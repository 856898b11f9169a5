# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# A CronJob poison (issue 12): its Job's pod kills a node, firebreak evicts it, the Job's
# replacement kills a second node, and the CronJob (Job <cronjob>-<minutes>) is quarantined.
# The next minute's Job creates a new pod: the webhook gates it, and no third node is lost.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="CronJob poison quarantined; the next scheduled Job's pod is gated"

scenario_run() {
  # shellcheck source=../gate.sh
  source "${E2E_DIR}/gate.sh"
  gate_start
  step "deploy the CronJob poison"
  e2ectl apply "${E2E_DIR}/manifests/poison-cronjob.yaml" --field-manager e2e
  gate_cascade poison-cron
  e2ectl expect-quarantine --app poison-cron
  step "wait for the next scheduled Job's pod"
  e2ectl expect-gated --app poison-cron --count 1 --timeout 90s
  gate_holds poison-cron
  summary result PASS
  summary quarantine "$(e2ectl get quarantines -o 'jsonpath={.items[0].metadata.name}')"
}
