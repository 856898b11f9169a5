# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Adoption, and its race (issue 13). 24 pods run before firebreak is installed: Kubernetes'
# taint-eviction controller would delete them 10 s after their node fails. firebreak --managed
# starts with a deliberately slow adoption (--adopt-rate 0.25: one pod every 4 s) and node-3
# fails at once, while most pods are still uncovered:
#   - the pods of node-3 go first (a failed node's pods are adopted before the others); the ones
#     covered before Kubernetes' 10 s are firebreak's: it evicts them at failedSince + 10 s, and
#     Kubernetes' queued deletion is cancelled (tolerationSeconds unset cancels it);
#   - the ones still uncovered at 10 s are deleted by the taint-eviction controller, as without
#     firebreak; firebreak never evicts an uncovered pod, so no pod is acted on twice;
#   - either way every pod of node-3 is gone within 10 s + 2 s of the Ready transition.
# Then the rest are adopted; the uncovered count (metric, /readyz) reaches 0.
SCENARIO_MODE=managed
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="24 pods from before the install adopted at 0.25/s while node-3 fails: who evicts what"
FB_PORT=18080

metric() { curl -fsS "http://127.0.0.1:${FB_PORT}/metrics" | sed -n "s/^$1 \([0-9.e+]*\)$/\1/p"; }

scenario_run() {
  need_firebreak
  command -v curl >/dev/null || skip "curl is needed to read /metrics"
  step "24 pods before firebreak (no webhook yet): 10 s tolerations"
  e2ectl deploy web --replicas 12
  e2ectl deploy api --replicas 12
  e2ectl rollout web api --timeout 90s
  e2ectl coverage | tee "${LOG_DIR}/coverage-before.txt"
  grep -q '^covered=0 uncovered=24$' "${LOG_DIR}/coverage-before.txt"
  step "install: CRDs, webhook, firebreak --managed --adopt-rate 0.25; fail node-3 at once"
  apply_crds
  FB_MANAGED=1 start_firebreak firebreak "${FB_PORT}" --leader-elect=false --adopt-rate 0.25
  fail_node node-3
  local out
  out="$(e2ectl expect-evicted --node node-3 --within "$((${E2E_TOLERATION_SECONDS:-10} + 2))s" --timeout 60s)" ||
    { echo "${out}"; return 1; }
  echo "${out}"
  local k8s fb total
  k8s="$(grep -cE 'terminating on node-3 \(DeletionByTaintManager\)' "${RUN_DIR}/timeline.log" || true)"
  total="$(grep -cE 'terminating on node-3 ' "${RUN_DIR}/timeline.log" || true)"
  fb=$((total - k8s))
  summary node3_pods "${total}: ${fb} covered in time and evicted by firebreak, ${k8s} still uncovered and deleted by the taint-eviction controller"
  summary node3_latency "$(sed -n 's/.*: max \([0-9.]*s\) over.*/\1/p' <<<"${out}") after the Ready transition (toleration 10 s)"
  # firebreak evicts only what it covered: one Evicting Event per pod it took, none for the rest
  local ev
  ev="$(e2ectl events | grep -cE 'Evicting +Pod/' || true)"
  ((ev == fb)) || { echo "firebreak evicted ${ev} pods, want the ${fb} it covered" >&2; return 1; }
  step "the rest adopted; uncovered reaches 0"
  e2ectl wait-covered --count 24 --timeout 120s
  e2ectl expect-covered --seconds 10 --count 24 --timeout 30s
  local i
  for ((i = 0; i < 20; i++)); do
    [[ "$(metric 'firebreak_managed_pods{state="uncovered"}')" == 0 ]] && break
    sleep 1
  done
  [[ "$(metric 'firebreak_managed_pods{state="uncovered"}')" == 0 ]] ||
    { curl -fsS "http://127.0.0.1:${FB_PORT}/metrics" | grep managed >&2; return 1; }
  curl -fsS "http://127.0.0.1:${FB_PORT}/readyz" | tee "${LOG_DIR}/readyz.txt"
  grep -q 'mode: managed; pods not covered yet: 0' "${LOG_DIR}/readyz.txt"
  summary writes "$(curl -fsS "http://127.0.0.1:${FB_PORT}/metrics" | grep '^firebreak_managed_writes_total' | paste -sd' ')"
}
