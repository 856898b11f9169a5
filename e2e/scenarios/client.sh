# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# k8sclient against the real control plane: paginated LIST, an informer seeing a pod
# scheduled and evicted, the Eviction API refused by a PodDisruptionBudget (429),
# leader election between two electors on one Lease, Events folded into a series.
# Skips (exit 77) while the check binary is not built; KC_E2E_BIN overrides its path.
SCENARIO_MODE=firebreak
SCENARIO_NODES=3
SCENARIO_DESCRIPTION="k8sclient list/watch, eviction, leader election and events"

scenario_run() {
  local bin="${KC_E2E_BIN:-${REPO_DIR}/build/release/k8sclient/kc_e2e_check}"
  [[ -x "${bin}" ]] || skip "kc_e2e_check not found at ${bin} (build it first, or set KC_E2E_BIN)"
  step "run kc_e2e_check"
  "${bin}"
}
