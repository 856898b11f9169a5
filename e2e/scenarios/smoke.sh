# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak mode (taint-eviction controller off): the firebreak binary starts against the
# cluster, lists and watches nodes and pods, and reports them synced with the right counts.
# Skips (exit 77) while the binary is not built; FB_BIN overrides its path.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="firebreak lists and watches nodes and pods"

scenario_run() {
  local fb="${FB_BIN:-${REPO_DIR}/build/release/controller/firebreak}"
  [[ -x "${fb}" ]] || skip "firebreak binary not found at ${fb} (build it first, or set FB_BIN)"
  step "deploy innocent workload"
  e2ectl deploy web --replicas 4
  e2ectl rollout web --timeout 60s
  step "start firebreak"
  start_bg firebreak "${fb}" --kubeconfig "${KUBECONFIG}"
  if ! wait_for_log firebreak 'msg="?informers synced' 60; then
    tail -n 30 "${LOG_DIR}/firebreak.log" >&2 || true
    echo "firebreak did not report informers synced within 60 s" >&2
    return 1
  fi
  local line nodes pods want_nodes want_pods
  line="$(grep -m1 -E 'msg="?informers synced' "${LOG_DIR}/firebreak.log")"
  echo "firebreak: ${line}"
  nodes="$(sed -n 's/.*[[:space:]]nodes=\([0-9]*\).*/\1/p' <<<"${line}")"
  pods="$(sed -n 's/.*[[:space:]]pods=\([0-9]*\).*/\1/p' <<<"${line}")"
  want_nodes="$(e2ectl nodes)"
  want_pods="$(e2ectl pods)"
  [[ "${nodes}" == "${want_nodes}" ]] || { echo "firebreak saw nodes=${nodes}, cluster has ${want_nodes}" >&2; return 1; }
  [[ "${pods}" == "${want_pods}" ]] || { echo "firebreak saw pods=${pods}, cluster has ${want_pods}" >&2; return 1; }
  sleep 3
  is_running firebreak || { echo "firebreak exited after syncing" >&2; return 1; }
  echo "firebreak synced nodes=${nodes} pods=${pods} and keeps watching"
}
