# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Signs that a node ran short of memory, other than its MemoryPressure condition (issue 15):
# kubelet's SystemOOM and EvictionThresholdMet Warning Events on the Node, as kubelet's
# recorder writes them (core/v1 Events; firebreak watches events.k8s.io/v1 with the field
# selector regarding.kind=Node,type=Warning, so the API server converts and filters them).
#  1. node-1 gets a SystemOOM Event, node-2 an EvictionThresholdMet for memory; node-3 one for
#     ephemeral-storage, a Normal Event, and a container reaching its own limit (node-problem-
#     detector's cgroup OOMKilling): not signs.
#  2. All three fail (one node in each of the three zones, no outage): node-1's and node-2's failure records say memory pressure came before
#     (the surprise verdict's evidence), node-3's does not.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="kubelet's SystemOOM and EvictionThresholdMet Events: memory pressure before a failure"

# node_event NODE REASON TYPE MESSAGE: a core/v1 Event on the Node, as kubelet records it
node_event() {
  local now
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  e2ectl apply - <<YAML
apiVersion: v1
kind: Event
metadata: {name: "$1.$(date +%s%N)", namespace: default}
involvedObject: {kind: Node, name: "$1", uid: "$1", apiVersion: v1}
reason: "$2"
type: "$3"
message: "$4"
source: {component: kubelet, host: "$1"}
firstTimestamp: "${now}"
lastTimestamp: "${now}"
count: 1
YAML
}

# memory_pressure_recorded NODE: its firebreak.dev/failure record, once written (30 s at most),
# says "memoryPressure": true
memory_pressure_recorded() {
  local rec="" i
  for ((i = 0; i < 150; i++)); do
    rec="$(e2ectl get node "$1" -o 'jsonpath={.metadata.annotations.firebreak\.dev/failure}')"
    [[ -n "${rec}" ]] && break
    sleep 0.2
  done
  [[ -n "${rec}" ]] || { echo "no failure record on $1" >&2; return 2; }
  echo "$1: ${rec}"
  grep -q '"memoryPressure":true' <<<"${rec}"
}

scenario_run() {
  need_firebreak
  apply_crds
  start_firebreak firebreak 18080 --leader-elect=false
  e2ectl deploy web --replicas 3
  e2ectl rollout web --timeout 60s

  step "1. signs on node-1 and node-2; none on node-3"
  node_event node-1 SystemOOM Warning "System OOM encountered, victim process: leak, pid: 4242"
  node_event node-2 EvictionThresholdMet Warning "Attempting to reclaim memory"
  node_event node-3 EvictionThresholdMet Warning "Attempting to reclaim ephemeral-storage"
  node_event node-3 SystemOOM Normal "not a Warning: the API server filters it out"
  node_event node-3 OOMKilling Warning "Memory cgroup out of memory: Killed process 7 (app)"
  wait_for_log firebreak 'node short of memory.*node=node-1 reason=SystemOOM' 20 ||
    { echo "firebreak did not see node-1's SystemOOM Event" >&2; return 1; }
  wait_for_log firebreak 'node short of memory.*node=node-2 reason=EvictionThresholdMet' 20 ||
    { echo "firebreak did not see node-2's EvictionThresholdMet Event" >&2; return 1; }
  summary seen "$(grep -c 'node short of memory' "${LOG_DIR}/firebreak.log") signs logged"
  ! grep -q 'node short of memory.*node=node-3' "${LOG_DIR}/firebreak.log" ||
    { echo "node-3's Events were taken for signs of memory pressure" >&2; return 1; }

  step "2. the three nodes fail: the records of node-1 and node-2 say memory pressure came first"
  fail_node node-1
  fail_node node-2
  fail_node node-3
  memory_pressure_recorded node-1 || { echo "node-1's record lacks its SystemOOM" >&2; return 1; }
  memory_pressure_recorded node-2 || { echo "node-2's record lacks its eviction threshold" >&2; return 1; }
  local rc=0
  memory_pressure_recorded node-3 || rc=$?
  ((rc == 1)) || { echo "node-3's record says memory pressure (rc ${rc})" >&2; return 1; }
  summary recorded "node-1 (SystemOOM) and node-2 (EvictionThresholdMet) recorded with memory pressure, node-3 without"
}
