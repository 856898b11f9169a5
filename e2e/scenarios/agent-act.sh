# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak-node in act mode (issue 16): the poison's pod holds /dev/nvidia0 and, once it runs,
# memory no /proc/meminfo category counts grows towards 28 GiB; at 30 s its node would die
# (e2e/cmd/fakelet/proctree.go). Each agent runs with --act: when its node is about to thrash
# (MemAvailable under 5 %, from about 26 s, with memory stalled 40 % from half the growth on) and
# the growth is laid at the poison's pod, it
# kills the pod's processes; fakelet restarts the container on the same node after kubelet's 10 s
# back-off, and the poison allocates again, to be killed again.
#  1. The kill: an UnaccountedMemoryKilled Event on the poison's node naming its pod, before the
#     node would die; firebreak takes it as a sign the node ran short of memory (its log).
#  2. For 60 s after: no node lost, the poison's pod is the same pod on the same node, restarted
#     (restartCount >= 1); the innocent pods on that node were never killed.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_POISON_DELAY=30s
SCENARIO_PROC_TREES=1
SCENARIO_DESCRIPTION="firebreak-node --act kills the poison's processes before its node thrashes: no node lost"

scenario_run() {
  need_firebreak
  need_agent
  apply_crds
  start_firebreak firebreak 18080 --leader-elect=false
  step "an agent a node, in act mode"
  start_agents "${SCENARIO_NODES}" --act --act-max-kills 10 --act-period 600 \
    --act-state "${PROC_TREES}/act-kills-@NODE@"
  deploy_innocent 4
  step "deploy the poison (a GPU pod whose driver memory leaks)"
  local t0=${SECONDS} node="" uid="" i
  e2ectl deploy poison --replicas 1 --poison --gpu
  for ((i = 0; i < 100; i++)); do
    node="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="poison")].spec.nodeName}')"
    [[ -n "${node}" ]] && break
    sleep 0.2
  done
  uid="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="poison")].metadata.uid}')"
  echo "the poison's pod ${uid} runs on ${node}"

  step "1. the agent of ${node} kills the poison's processes before the node thrashes"
  e2ectl expect-event --reason UnaccountedMemoryKilled --kind Node --name "${node}" --contains "pod default/poison-" \
    --any-source --timeout 40s
  summary first_kill_s "$((SECONDS - t0)) s after the poison was deployed (its node would die at 30 s)"
  # evidence for firebreak: it takes the kill as a sign the node ran short of memory
  wait_for_log firebreak "node short of memory.*node=${node} reason=UnaccountedMemoryKilled" 10 ||
    { echo "firebreak did not take the kill as a memory sign" >&2; return 1; }
  grep 'pod killed' "${LOG_DIR}/agent-${node}.log" | head -1

  step "2. 80 s more: no node lost; the same pod, restarted on the same node"
  sleep 80
  local failed
  failed="$(e2ectl failed-nodes)"
  [[ -z "${failed}" ]] || { echo "nodes lost: ${failed}" >&2; return 1; }
  # and none is dying: fakelet stops a node's heartbeat at once, Ready follows a grace later
  ! grep -q 'stopped heartbeating' "${RUN_DIR}/fakelet/events.log" ||
    { grep 'stopped heartbeating' "${RUN_DIR}/fakelet/events.log" >&2; echo "a node died" >&2; return 1; }
  local now_uid now_node restarts kills other
  now_uid="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="poison")].metadata.uid}')"
  now_node="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="poison")].spec.nodeName}')"
  restarts="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="poison")].status.containerStatuses[0].restartCount}')"
  echo "the poison: pod ${now_uid} on ${now_node}, restarted ${restarts} times"
  [[ "${now_uid}" == "${uid}" && "${now_node}" == "${node}" ]] ||
    { echo "the poison's pod moved or was replaced" >&2; return 1; }
  ((restarts >= 1)) || { echo "the poison's container was not restarted" >&2; return 1; }
  kills="$(grep -c 'pod killed' "${LOG_DIR}/agent-${node}.log" || true)"
  other="$(grep 'pod killed' "${LOG_DIR}"/agent-node-*.log | grep -vc "pod=${uid}" || true)"
  ((other == 0)) || { echo "another pod was killed" >&2; grep 'pod killed' "${LOG_DIR}"/agent-node-*.log >&2; return 1; }
  summary nodes_lost 0
  summary kills "${kills} kills of the poison's processes on ${node} in $((SECONDS - t0)) s, restartCount ${restarts}, no other pod killed"
}
