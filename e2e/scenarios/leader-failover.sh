# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Two firebreak replicas with leader election (lease 6 s, renew deadline 4 s, retry 1 s). A
# node fails; as soon as the leader has recorded the failure it is SIGKILLed (by its pid).
# The standby takes the Lease over and evicts the node's pods when due; no pod is evicted twice.
# Takeover bound, as client-go's semantics (which k8sclient's elector copies) give it: the
# standby polls the Lease every retryPeriod x (1 + U[0,1.2)) (1 to 2.2 s here); it sees the
# dead leader's last renewal up to one poll late, counts the lease duration from then, and
# acquires at its next poll: at most leaseDuration + 2 x 2.2 x retryPeriod = 10.4 s after the
# kill (measured: 6.6 s and 8.4 s).
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="leader SIGKILLed right after a node failure: the standby takes over and evicts, once"

LEASE_S=6
RETRY_S=1

scenario_run() {
  need_firebreak
  step "apply CRDs, start two firebreak replicas"
  apply_crds
  local cfg="${RUN_DIR}/firebreak-le.yaml"
  printf 'leaderElection:\n  enabled: true\n  name: firebreak\n  leaseDuration: %ss\n  renewDeadline: 4s\n  retryPeriod: %ss\n' \
    "${LEASE_S}" "${RETRY_S}" >"${cfg}"
  start_firebreak fb-a 18081 --config "${cfg}" --lease-namespace default
  wait_for_log fb-a 'msg="?became leader' 30 || { echo "fb-a did not become leader" >&2; return 1; }
  start_firebreak fb-b 18082 --config "${cfg}" --lease-namespace default
  wait_for_log fb-b 'msg="?leader observed' 30 || { echo "fb-b did not observe the leader" >&2; return 1; }
  deploy_innocent
  step "fail node-3"
  fail_node node-3
  wait_for_log fb-a 'FailureRecorded.*node-3' 30 || { echo "the leader did not record the failure" >&2; return 1; }
  local pid t_kill t_lead takeover dups
  pid="$(pid_of fb-a)"
  step "SIGKILL the leader fb-a (pid ${pid})"
  kill -KILL "${pid}"
  t_kill="$(date -u +%s.%N)"
  wait_for_log fb-b 'msg="?became leader' 30 || { echo "fb-b did not take over within 30 s" >&2; return 1; }
  t_lead="$(fb_log_time fb-b 'msg="?became leader')"
  takeover="$(awk -v a="${t_kill}" -v b="${t_lead}" 'BEGIN { printf "%.1f", b - a }')"
  echo "fb-b became leader ${takeover} s after the SIGKILL (lease ${LEASE_S} s, retry ${RETRY_S} s)"
  summary takeover "${takeover} s after SIGKILL (lease ${LEASE_S} s)"
  awk -v t="${takeover}" -v l="${LEASE_S}" -v r="${RETRY_S}" 'BEGIN { exit !(t <= l + 2 * 2.2 * r) }' ||
    { echo "takeover slower than leaseDuration + 2 jittered retry periods" >&2; return 1; }
  e2ectl expect-moved --node node-3 --timeout 40s
  grep -h 'msg="\{0,1\}pod evicted' "${LOG_DIR}/fb-a.log" "${LOG_DIR}/fb-b.log" | sed -n 's/.* pod=\([^ ]*\).*/\1/p' | sort >"${RUN_DIR}/evicted.txt"
  echo "evictions: fb-a $(grep -c 'pod evicted' "${LOG_DIR}/fb-a.log" || true), fb-b $(grep -c 'pod evicted' "${LOG_DIR}/fb-b.log" || true)"
  dups="$(uniq -d "${RUN_DIR}/evicted.txt")"
  [[ -z "${dups}" ]] || { echo "pods evicted twice: ${dups}" >&2; return 1; }
  [[ -s "${RUN_DIR}/evicted.txt" ]] || { echo "no eviction logged" >&2; return 1; }
  summary evictions "$(wc -l <"${RUN_DIR}/evicted.txt") pods, each once"
}
