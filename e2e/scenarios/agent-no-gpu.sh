# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak-node against a node whose unaccounted memory grows with no GPU process on it
# (issue 16): the memory is flagged, laid at no pod, and the node's failure quarantines nothing,
# under the same lenient limit at which agent-observe quarantines on one naming.
#  1. An agent a node; GPU pods run on some nodes, none on the node chosen to leak.
#  2. That node's memory no category counts grows (fakelet: DIR/<node>/leak): its agent says
#     True, NotAttributed, "no pod holds a GPU device open", with a Warning Event; no pod is named.
#  3. The node fails. Its failure record carries no naming, the innocent workloads that arrived on
#     it shortly before are not quarantined, and no Quarantine exists 30 s later.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_PROC_TREES=1
SCENARIO_DESCRIPTION="firebreak-node: memory grows on a node with no GPU process: flagged, laid at no pod, no quarantine"

# shellcheck source=agent-observe.sh
source "${E2E_DIR}/scenarios/agent-observe.sh"
SCENARIO_DESCRIPTION="firebreak-node: memory grows on a node with no GPU process: flagged, laid at no pod, no quarantine"

scenario_run() {
  agents_start 20
  e2ectl deploy train --replicas 2 --gpu
  e2ectl rollout train --timeout 60s
  local gpu_nodes node="" i
  gpu_nodes="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="train")].spec.nodeName}')"
  for ((i = 1; i <= SCENARIO_NODES; i++)); do
    grep -qw "node-${i}" <<<"${gpu_nodes}" || { node="node-${i}"; break; }
  done
  echo "GPU pods on: ${gpu_nodes}; the leak on ${node}"
  # innocent workloads that arrive on it shortly before it fails, as the poison's would
  deploy_innocent 6

  step "2. ${node}'s memory grows with no GPU process on it"
  touch "${PROC_TREES}/${node}/leak"
  wait_condition "${node}" "True/NotAttributed/*no pod holds a GPU device open*" 15 ||
    { tail -n 20 "${LOG_DIR}/agent-${node}.log" >&2; return 1; }
  e2ectl expect-event --reason UnaccountedMemory --kind Node --name "${node}" --contains "no pod holds" \
    --any-source --timeout 15s
  summary flagged "${node}: True/NotAttributed"

  step "3. ${node} fails: nothing is quarantined"
  fail_node "${node}"
  local rec=""
  for ((i = 0; i < 150; i++)); do
    rec="$(e2ectl get node "${node}" -o 'jsonpath={.metadata.annotations.firebreak\.dev/failure}')"
    [[ -n "${rec}" ]] && break
    sleep 0.2
  done
  [[ -n "${rec}" ]] || { echo "no failure record on ${node}" >&2; return 1; }
  echo "${node}'s failure record: ${rec}"
  ! grep -q '"attributed":true' <<<"${rec}" || { echo "the record says a pod was named" >&2; return 1; }
  sleep 30
  local q
  q="$(e2ectl get quarantines -A -o 'jsonpath={.items[*].metadata.name}')"
  [[ -z "${q}" ]] || { echo "quarantined: ${q}" >&2; return 1; }
  grep 'poison verdict\|no verdict\|judged' "${LOG_DIR}/firebreak.log" | tail -n 3 || true
  summary quarantines 0
}
