# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# A StatefulSet poison (issue 12): its two pods kill their two nodes and the StatefulSet is
# quarantined. An operator then force-deletes the pods on the dead nodes (a StatefulSet
# recreates a pod only once the old one is gone); the recreated pods, same names, are gated.
# The verdict is the ratio rule's (poison.verdict: Ratio): the StatefulSet's two pods die
# together, which in 6 nodes the surprise verdict takes for a 1-in-15 burst, and its pods on
# dead nodes are never replaced on their own (one pod per identity), so no second wave comes
# to judge by. The gate is what is tested here.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="StatefulSet poison quarantined; its pods deleted by hand come back gated"

scenario_run() {
  # shellcheck source=../gate.sh
  source "${E2E_DIR}/gate.sh"
  local cfg="${RUN_DIR}/firebreak-ratio.yaml"
  printf 'poison:\n  verdict: Ratio\n' >"${cfg}"
  gate_start --config "${cfg}"
  deploy_innocent 4
  step "deploy the StatefulSet poison"
  e2ectl apply "${E2E_DIR}/manifests/poison-statefulset.yaml" --field-manager e2e
  e2ectl expect-contained --app poison-sts --max-nodes 2 --settle 20s --timeout 180s
  step "force-delete the StatefulSet's pods on the dead nodes"
  e2ectl delete-pods --app poison-sts --force
  e2ectl expect-gated --app poison-sts --count 2 --timeout 45s
  e2ectl expect-event --reason QuarantineGated --kind StatefulSet --name poison-sts --timeout 30s
  gate_holds poison-sts
  summary result PASS
}
