# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak-node in observe mode (issue 16): one agent a node, each over the /proc tree fakelet
# writes for its node (e2e/cmd/fakelet/proctree.go). The poison holds /dev/nvidia0 and, once it
# runs, memory no /proc/meminfo category counts grows to 24 GiB in the 20 s its node lives, as
# the incident's GPU driver's did; another GPU workload holds its devices and leaks nothing.
#  1. Every node's agent writes its UnaccountedMemory condition: False, MemoryAccounted.
#  2. On the poison's node the agent lays the memory at the poison's pod (True, OnlyHolder, the
#     pod's UID in the message), with a Warning Event on the Node naming the pod; no other
#     node's condition turns.
#  3. The node dies; firebreak records the naming in its failure record and quarantines the
#     poison at that first failed node, with the naming as the Quarantine's evidence; no second
#     node is lost.
# The limit: in a cluster with no history, one naming is judged against the share of failures
# named so far by Laplace's rule, 1/2 (controller/core/surprise.c), so the verdict at the first
# node needs a limit above 1/2 per judgement: falseAlarmsPerYear 20 for this 6-node cluster (the
# prior's 22 judgements a year). At the default limit a naming sharpens the second failure
# instead (docs/DESIGN.md, "What a node's agent says"); agent-no-gpu shows the same limit without
# a naming quarantines nothing.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_POISON_DELAY=20s
SCENARIO_PROC_TREES=1
SCENARIO_DESCRIPTION="firebreak-node names the poison's pod before its node dies: quarantine at the first failed node"

# agent_condition NODE: status/reason/message of the node's UnaccountedMemory condition
agent_condition() {
  e2ectl get node "$1" \
    -o 'jsonpath={.status.conditions[?(@.type=="UnaccountedMemory")].status}/{.status.conditions[?(@.type=="UnaccountedMemory")].reason}/{.status.conditions[?(@.type=="UnaccountedMemory")].message}'
}

# agents_start LIMIT: firebreak (Surprise verdict at that falseAlarmsPerYear) and an agent a node,
# every node's condition False to begin with
agents_start() {
  need_firebreak
  need_agent
  apply_crds
  local cfg="${RUN_DIR}/firebreak-agent.yaml" i c
  printf 'poison:\n  verdict: Surprise\n  falseAlarmsPerYear: %s\n' "$1" >"${cfg}"
  start_firebreak firebreak 18080 --leader-elect=false --config "${cfg}"
  step "1. an agent a node: every condition False (MemoryAccounted)"
  start_agents "${SCENARIO_NODES}"
  for ((i = 1; i <= SCENARIO_NODES; i++)); do
    c="$(agent_condition "node-${i}")"
    echo "node-${i}: ${c}"
    [[ "${c}" == False/MemoryAccounted/* ]] || { echo "node-${i}'s condition is not False: ${c}" >&2; return 1; }
  done
}

# wait_condition NODE PATTERN SECONDS: until the node's condition matches the glob
wait_condition() {
  local c="" i
  for ((i = 0; i < $3 * 5; i++)); do
    c="$(agent_condition "$1")"
    # shellcheck disable=SC2053  # a glob on purpose
    [[ "${c}" == $2 ]] && { echo "$1: ${c}"; return 0; }
    sleep 0.2
  done
  echo "$1's condition is not $2 after $3 s: ${c}" >&2
  return 1
}

scenario_run() {
  agents_start 20
  deploy_innocent 4
  step "deploy a GPU workload that leaks nothing, then the poison (a GPU pod whose driver memory leaks)"
  e2ectl deploy train --replicas 2 --gpu
  e2ectl rollout train --timeout 60s
  e2ectl deploy poison --replicas 1 --poison --gpu
  local node uid i
  for ((i = 0; i < 100; i++)); do
    node="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="poison")].spec.nodeName}')"
    [[ -n "${node}" ]] && break
    sleep 0.2
  done
  [[ -n "${node}" ]] || { echo "the poison was not scheduled" >&2; return 1; }
  uid="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="poison")].metadata.uid}')"
  echo "the poison's pod ${uid} runs on ${node}"

  step "2. the agent of ${node} lays the memory at the poison's pod before the node dies"
  wait_condition "${node}" "True/OnlyHolder*/pod ${uid}: *" 15 ||
    { tail -n 20 "${LOG_DIR}/agent-${node}.log" >&2; return 1; }
  local t_named
  t_named="$(date +%s)"
  e2ectl expect-event --reason UnaccountedMemory --kind Node --name "${node}" --contains "pod ${uid}" \
    --any-source --timeout 15s
  for ((i = 1; i <= SCENARIO_NODES; i++)); do
    [[ "node-${i}" == "${node}" ]] && continue
    [[ "$(agent_condition "node-${i}")" == False/* ]] ||
      { echo "node-${i}'s condition turned: $(agent_condition "node-${i}")" >&2; return 1; }
  done
  summary named "${node}: $(agent_condition "${node}" | cut -d/ -f1-2), pod ${uid}"

  step "3. ${node} dies: the poison is quarantined at the first failed node"
  e2ectl expect-contained --app poison --max-nodes 1 --settle 40s --timeout 120s
  e2ectl expect-event --reason Quarantined --kind Deployment --name poison
  local rec ev
  rec="$(e2ectl get node "${node}" -o 'jsonpath={.metadata.annotations.firebreak\.dev/failure}')"
  echo "${node}'s failure record: ${rec}"
  grep -q '"attributed":true' <<<"${rec}" || { echo "the failure record lacks the naming" >&2; return 1; }
  ev="$(e2ectl get quarantines -A -o 'jsonpath={.items[*].status.evidence[*].kind}')"
  echo "the Quarantine's evidence: ${ev}"
  grep -qw Attribution <<<"${ev}" || { echo "the Quarantine does not list the naming" >&2; return 1; }
  summary nodes_lost 1
  local failed
  failed="$(sed -n 's/.*"failedAt":"\([^"]*\)".*/\1/p' <<<"${rec}")"
  summary named_before_failure_s "$(($(date -u -d "${failed}" +%s) - t_named))"
}
