# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# The cascade of cascade-firebreak with two replicas: the leader is SIGKILLed right after it
# recorded the first failure. The standby takes over, evicts the first node's pods, and
# quarantines the poison at the second failure, from the failure history kept in the API.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="leader killed after the 1st poison failure: the standby quarantines at the 2nd"

scenario_run() {
  need_firebreak
  step "apply CRDs, start two firebreak replicas"
  apply_crds
  local cfg="${RUN_DIR}/firebreak-le.yaml"
  printf 'leaderElection:\n  enabled: true\n  name: firebreak\n  leaseDuration: 6s\n  renewDeadline: 4s\n  retryPeriod: 1s\n' >"${cfg}"
  start_firebreak fb-a 18081 --config "${cfg}" --lease-namespace default
  wait_for_log fb-a 'msg="?became leader' 30 || { echo "fb-a did not become leader" >&2; return 1; }
  start_firebreak fb-b 18082 --config "${cfg}" --lease-namespace default
  step "deploy innocent workloads and poison"
  e2ectl deploy web --replicas 6
  e2ectl deploy api --replicas 4
  e2ectl rollout web api --timeout 60s
  e2ectl deploy poison --replicas 1 --poison
  wait_for_log fb-a 'FailureRecorded' 60 || { echo "the leader recorded no failure" >&2; return 1; }
  step "SIGKILL the leader fb-a"
  kill -KILL "$(pid_of fb-a)"
  e2ectl expect-contained --app poison --max-nodes 2 --settle 40s --timeout 120s
  grep -q 'msg="\{0,1\}Quarantined' "${LOG_DIR}/fb-b.log" || { echo "the quarantine was not declared by fb-b" >&2; return 1; }
  e2ectl expect-pinned --app poison
  local lost
  lost="$(e2ectl failed-nodes)"
  e2ectl expect-moved --node "${lost}" --except-app poison --timeout 30s
  summary nodes_lost "$(tr ',' '\n' <<<"${lost}" | grep -c .) (${lost})"
}
