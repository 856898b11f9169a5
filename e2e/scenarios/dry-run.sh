# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak --dry-run: a node fails; nothing is evicted or deleted (its pods still exist and
# are not terminating toleration + 15 s after the failure), and Events say "(dry run)".
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="dry run: a node fails, nothing is evicted, Events say what would have happened"

scenario_run() {
  need_firebreak
  step "apply CRDs, start firebreak --dry-run"
  apply_crds
  start_firebreak firebreak 18080 --leader-elect=false --dry-run
  step "deploy innocent workloads"
  e2ectl deploy web --replicas 6
  e2ectl rollout web --timeout 60s
  step "fail node-2"
  fail_node node-2
  # grace 8 s + toleration 10 s + 15 s
  e2ectl expect-stay --node node-2 --for 33s
  e2ectl expect-event --kind Pod --contains "(dry run)" --timeout 10s
  e2ectl expect-event --kind Node --name node-2 --contains "(dry run)" --timeout 10s
  if grep -Eq 'msg="?pod evicted' "${LOG_DIR}/firebreak.log"; then
    echo "firebreak logged an eviction in dry run" >&2
    return 1
  fi
  grep -E 'would (evict|delete) pod' "${LOG_DIR}/firebreak.log" | head -n 3
}
