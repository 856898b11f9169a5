# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak-node with the chart's own identity (issue 16): its ServiceAccount, ClusterRole and the
# ValidatingAdmissionPolicy that keeps it to its own Node (charts/firebreak/templates/node-*.yaml,
# helm-rendered with node.enabled=true), enforced by the real API server.
#  1. A pod of the agent's ServiceAccount on node-1 (as the DaemonSet's would be) and a token bound
#     to it (TokenRequest), which carries node-1's name (authentication.kubernetes.io/node-name).
#  2. Once the API server enforces the policy, firebreak-node with that token writes node-1's
#     condition: the chart's RBAC is enough.
#  3. The same token may not write node-2's status (the policy: not its node), nor change node-1's
#     Ready condition, addresses, nodeInfo, or its labels and annotations through the status
#     subresource, whatever the patch type (the policy: only its own condition), nor patch the
#     Node itself or read a Secret (RBAC).
#  4. Stopped by SIGTERM, the agent deletes its condition (the policy allows it: its own).
SCENARIO_MODE=firebreak
SCENARIO_NODES=3
SCENARIO_PROC_TREES=1
SCENARIO_DESCRIPTION="firebreak-node under the chart's ServiceAccount, RBAC and own-node admission policy"

# as_agent METHOD PATH CONTENT-TYPE BODY: the API call with the agent's token; prints the HTTP code
as_agent() {
  local server
  server="$(sed -n 's/^ *server: //p' "${KUBECONFIG}" | head -1)"
  curl -sS -o "${RUN_DIR}/as-agent.out" -w '%{http_code}' --cacert "${PKI_DIR}/ca.crt" \
    -H "Authorization: Bearer $(cat "${RUN_DIR}/agent.token")" -X "$1" -H "Content-Type: $3" \
    --data "$4" "${server}$2"
}

# refused WHAT CODE WHY: the call was refused with 403 and a message containing WHY
refused() {
  local msg
  msg="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("message",""))' \
    "${RUN_DIR}/as-agent.out" 2>/dev/null || true)"
  echo "$1: HTTP $2: ${msg}"
  [[ "$2" == 403 && "${msg}" == *"$3"* ]] ||
    { echo "$1 was not refused for: $3" >&2; cat "${RUN_DIR}/as-agent.out" >&2; return 1; }
}

scenario_run() {
  need_agent
  local helm ns=firebreak-system
  # shellcheck source=../versions.sh
  source "${E2E_DIR}/versions.sh"
  # shellcheck source=../../scripts/go-tools.sh
  helm="$(source "${REPO_DIR}/scripts/go-tools.sh" && fb_tool helm)"
  step "1. the chart's agent identity, a pod of it on node-1, a token bound to that pod"
  {
    printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n' "${ns}"
    "${helm}" template firebreak "${REPO_DIR}/charts/firebreak" --namespace "${ns}" \
      --kube-version "${K8S_VERSION#v}" --set node.enabled=true \
      --show-only templates/node-rbac.yaml --show-only templates/node-admissionpolicy.yaml
  } >"${RUN_DIR}/agent-chart.yaml"
  e2ectl apply "${RUN_DIR}/agent-chart.yaml" --field-manager e2e
  e2ectl apply - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: agent-probe, namespace: ${ns}, labels: {firebreak.dev/webhook: skip}}
spec:
  serviceAccountName: firebreak-node
  nodeName: node-1
  containers: [{name: main, image: registry.k8s.io/pause:3.10}]
YAML
  e2ectl token firebreak-node -n "${ns}" --bound-pod agent-probe >"${RUN_DIR}/agent.token"
  chmod 600 "${RUN_DIR}/agent.token"
  write_kubeconfig "${RUN_DIR}/agent.kubeconfig" firebreak-node "$(cat "${RUN_DIR}/agent.token")" 127.0.0.1
  # the API server enforces a policy once it has loaded it (a few seconds): until then a write to
  # another node goes through, so wait for the first refusal
  local i t0=${SECONDS} loaded=0
  for ((i = 0; i < 60; i++)); do
    "${FBN_BIN}" watch --root "${PROC_TREES}/node-2" --node node-2 --kubeconfig "${RUN_DIR}/agent.kubeconfig" \
      --samples 1 >"${LOG_DIR}/agent-other.log" 2>&1 || true
    grep -q 'may write only the status of the Node it runs on' "${LOG_DIR}/agent-other.log" && { loaded=1; break; }
    sleep 0.5
  done
  ((loaded)) || { cat "${LOG_DIR}/agent-other.log" >&2; echo "the policy never refused node-2's write" >&2; return 1; }
  summary policy_in_force_s "$((SECONDS - t0))"
  step "2. firebreak-node with that token writes node-1's condition"
  "${FBN_BIN}" watch --root "${PROC_TREES}/node-1" --node node-1 --kubeconfig "${RUN_DIR}/agent.kubeconfig" \
    --samples 2 --interval 0.5 >"${LOG_DIR}/agent-own.log" 2>&1 || true
  local ok=0
  grep -q 'condition written' "${LOG_DIR}/agent-own.log" && ok=1
  cat "${LOG_DIR}/agent-own.log"
  ((ok)) || { echo "the agent could not write its own node's condition" >&2; return 1; }
  e2ectl get node node-1 -o 'jsonpath={.status.conditions[?(@.type=="UnaccountedMemory")].reason}{"\n"}'
  summary own_node "condition written with the chart's RBAC"

  step "3. what the policy and RBAC refuse"
  cat "${LOG_DIR}/agent-other.log"
  ! grep -q 'condition written' "${LOG_DIR}/agent-other.log" ||
    { echo "the agent wrote another node's condition" >&2; return 1; }
  local now code
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  code="$(as_agent PATCH /api/v1/nodes/node-2/status application/strategic-merge-patch+json \
    '{"status":{"conditions":[{"type":"UnaccountedMemory","status":"False","reason":"MemoryAccounted","message":"x","lastHeartbeatTime":"'"${now}"'","lastTransitionTime":"'"${now}"'"}]}}')"
  refused "another node's condition" "${code}" "may write only the status of the Node it runs on"
  code="$(as_agent PATCH /api/v1/nodes/node-1/status application/strategic-merge-patch+json \
    '{"status":{"conditions":[{"type":"Ready","status":"False","reason":"Forged","message":"x","lastHeartbeatTime":"'"${now}"'","lastTransitionTime":"'"${now}"'"}]}}')"
  refused "its node's Ready condition" "${code}" "may change only its UnaccountedMemory condition"
  code="$(as_agent PATCH /api/v1/nodes/node-1/status application/strategic-merge-patch+json \
    '{"status":{"addresses":[{"type":"InternalIP","address":"10.9.9.9"}]}}')"
  refused "its node's addresses" "${code}" "may change no field of a Node's status but its condition"
  code="$(as_agent PATCH /api/v1/nodes/node-1/status application/strategic-merge-patch+json \
    '{"status":{"nodeInfo":{"kubeletVersion":"v9.9.9"}}}')"
  refused "its node's nodeInfo" "${code}" "may change no field of a Node's status but its condition"
  code="$(as_agent PATCH /api/v1/nodes/node-1/status application/merge-patch+json \
    '{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}}}')"
  refused "its node's labels through the status" "${code}" "may not change a Node's labels, annotations, finalizers or owners"
  code="$(as_agent PATCH /api/v1/nodes/node-1/status application/json-patch+json \
    '[{"op":"add","path":"/metadata/annotations/firebreak.dev~1failure","value":"forged"}]')"
  refused "its node's annotations (JSON patch)" "${code}" "may not change a Node's labels, annotations, finalizers or owners"
  code="$(as_agent PATCH /api/v1/nodes/node-1 application/merge-patch+json '{"metadata":{"labels":{"x":"y"}}}')"
  refused "its node's labels (RBAC: no patch of nodes)" "${code}" 'cannot patch resource "nodes"'
  code="$(as_agent GET "/api/v1/namespaces/${ns}/secrets" application/json '')"
  refused "secrets (RBAC)" "${code}" 'cannot list resource "secrets"'
  [[ "$(e2ectl get node node-1 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]] ||
    { echo "node-1's Ready condition changed" >&2; return 1; }
  summary refused "another node, its Ready condition, its addresses, its nodeInfo, its labels and annotations through the status, its labels, secrets"

  step "4. stopped by SIGTERM (a rolling update, an uninstall), the agent takes its condition back"
  "${FBN_BIN}" watch --root "${PROC_TREES}/node-1" --node node-1 --kubeconfig "${RUN_DIR}/agent.kubeconfig" \
    --interval 0.5 >"${LOG_DIR}/agent-stop.log" 2>&1 &
  local pid=$!
  for ((i = 0; i < 50; i++)); do
    grep -q 'condition written' "${LOG_DIR}/agent-stop.log" 2>/dev/null && break
    sleep 0.2
  done
  grep -q 'condition written' "${LOG_DIR}/agent-stop.log" || { cat "${LOG_DIR}/agent-stop.log" >&2; return 1; }
  kill -TERM "${pid}"
  wait "${pid}" || { cat "${LOG_DIR}/agent-stop.log" >&2; echo "the agent did not exit 0 on SIGTERM" >&2; return 1; }
  cat "${LOG_DIR}/agent-stop.log"
  [[ -z "$(e2ectl get node node-1 -o 'jsonpath={.status.conditions[?(@.type=="UnaccountedMemory")].type}')" ]] ||
    { echo "node-1 still has the agent's condition" >&2; return 1; }
  [[ "$(e2ectl get node node-1 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]] ||
    { echo "node-1's Ready condition went with it" >&2; return 1; }
  summary withdrawn "node-1's condition deleted at SIGTERM, its other conditions kept"
}
