# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak-node as its users run it (issue 16): `helm install --set node.enabled=true` on the
# real node, the image built from deploy/Dockerfile. The DaemonSet's pod reads this machine's own
# /proc and /sys/fs/cgroup through the chart's read-only mounts, and writes the real node's
# UnaccountedMemory condition with the kubelet's projected token, through the chart's RBAC and
# its own-node admission policy (the token's node name is the real kubelet's doing here).
#  1. helm install: the agent's pod Ready on fb-real-0; its process runs as the chart says (root
#     with exactly CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, no new privileges, a read-only root,
#     the host's /proc read-only).
#  2. fb-real-0 has the condition, False (this machine's memory is accounted for), heartbeating.
#  3. helm uninstall leaves exactly what the docs say: its pre-delete hook stops the agents first
#     (firebreak-node stop-daemonset), so the agent takes its condition back while its RBAC still
#     exists, and no condition stays (docs/operations.md §9, "Uninstall").
SCENARIO_MODE=firebreak
SCENARIO_NODES=3
SCENARIO_REAL_NODE=1
SCENARIO_DESCRIPTION="in-cluster firebreak-node (helm, real node): the real /proc, the condition, least privilege, uninstall"

scenario_run() {
  # shellcheck source=../incluster.sh
  source "${E2E_DIR}/incluster.sh"
  ic_image
  ic_install --set node.enabled=true --set-string 'node.nodeSelector.firebreak\.dev/e2e-real-node=true' \
    --set node.interval=2 --set node.heartbeat=10

  step "1. the agent's pod on fb-real-0, and its process"
  local i agent=""
  for ((i = 0; i < 60; i++)); do
    agent="$(ic_pods node-agent | awk '$2 == "fb-real-0" && $3 == "Running" && $4 == "true" { print $1 }')"
    [[ -n "${agent}" ]] && break
    sleep 1
  done
  [[ -n "${agent}" ]] || { echo "no Ready firebreak-node pod on fb-real-0" >&2; ic_pods node-agent >&2; ic_diagnose; return 1; }
  [[ "$(ic_pods node-agent | wc -l)" == 1 ]] || { echo "firebreak-node runs beyond the selected node" >&2; ic_pods node-agent >&2; return 1; }
  local pid status mounts
  pid="$(pgrep -x firebreak-node | head -1)"
  [[ -n "${pid}" ]] || { echo "no firebreak-node process on this machine" >&2; return 1; }
  status="$(cat "/proc/${pid}/status")"
  mounts="$(cat "/proc/${pid}/mountinfo")"
  grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' <<<"${status}"
  grep -qE '^Uid:\s+0\s' <<<"${status}" || { echo "the agent does not run as root (attribution needs it)" >&2; return 1; }
  # CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19): 0x80004, nothing else, not even in the bounding set
  grep -qE '^CapEff:\s+0000000000080004$' <<<"${status}" || { echo "the agent's capabilities are not exactly the two" >&2; return 1; }
  grep -qE '^CapBnd:\s+0000000000080004$' <<<"${status}" || { echo "the agent's bounding set is wider" >&2; return 1; }
  grep -qE '^NoNewPrivs:\s+1$' <<<"${status}" || { echo "the agent may gain privileges" >&2; return 1; }
  awk '$5 == "/" { found = 1; if ($6 !~ /(^|,)ro(,|$)/) exit 1 } END { exit !found }' <<<"${mounts}" ||
    { echo "the agent's root file system is writable" >&2; return 1; }
  awk '$5 == "/host/proc" { found = 1; if ($6 !~ /(^|,)ro(,|$)/) exit 1 } END { exit !found }' <<<"${mounts}" ||
    { echo "the host's /proc is not mounted read-only" >&2; return 1; }
  summary agent "${agent} on fb-real-0: uid 0, CapEff 0x80004 (DAC_READ_SEARCH, SYS_PTRACE), no new privileges, read-only root and /host/proc"

  step "2. the real node's condition, written by the agent"
  local c="" hb1 hb2
  for ((i = 0; i < 60; i++)); do
    c="$(e2ectl get node fb-real-0 -o 'jsonpath={.status.conditions[?(@.type=="UnaccountedMemory")].status}/{.status.conditions[?(@.type=="UnaccountedMemory")].reason}/{.status.conditions[?(@.type=="UnaccountedMemory")].message}')"
    [[ "${c}" != // ]] && [[ -n "${c}" ]] && break
    sleep 1
  done
  echo "fb-real-0: ${c}"
  [[ "${c}" == False/MemoryAccounted/* ]] ||
    { echo "fb-real-0's condition is not False/MemoryAccounted" >&2; "${E2E_DIR}/realnode.sh" logs "${agent}" | tail -20 >&2; return 1; }
  hb1="$(e2ectl get node fb-real-0 -o 'jsonpath={.status.conditions[?(@.type=="UnaccountedMemory")].lastHeartbeatTime}')"
  sleep 12
  hb2="$(e2ectl get node fb-real-0 -o 'jsonpath={.status.conditions[?(@.type=="UnaccountedMemory")].lastHeartbeatTime}')"
  [[ "${hb2}" > "${hb1}" ]] || { echo "the condition's heartbeat did not move (${hb1}, ${hb2})" >&2; return 1; }
  "${E2E_DIR}/realnode.sh" logs "${agent}" | grep -m3 'condition written\|reporting' || true
  summary condition "${c%%/*}/$(cut -d/ -f2 <<<"${c}"), heartbeat ${hb1} -> ${hb2}"

  # what the agent costs on this machine: its resident memory, and its CPU over the run so far
  local rss ticks age
  rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid}/status")"
  ticks="$(awk '{ print $14 + $15 }' "/proc/${pid}/stat")"
  age="$(ps -o etimes= -p "${pid}" | tr -d ' ')"
  summary agent_cost "VmRSS ${rss} kB, CPU $((ticks * 1000 / $(getconf CLK_TCK))) ms in ${age} s (sampling every 2 s)"

  ic_uninstall
  # docs/operations.md §9, "Uninstall": the pre-delete hook stopped the agents while their RBAC
  # still existed, so the agent took its (False) condition back: the node is as found
  c="$(e2ectl get node fb-real-0 -o 'jsonpath={.status.conditions[?(@.type=="UnaccountedMemory")].reason}')"
  [[ -z "${c}" ]] || { echo "the agent's condition (${c}) stayed on fb-real-0 after the uninstall" >&2; return 1; }
  summary condition_after_uninstall "withdrawn by the agent, stopped by the pre-delete hook"
  # and the patch the docs give for a True condition kept on purpose works (here: a no-op)
  local server token code
  server="$(sed -n 's/^ *server: //p' "${KUBECONFIG}" | head -1)"
  token="$(sed -n 's/^ *token: //p' "${KUBECONFIG}" | head -1)"
  code="$(curl -sS -o /dev/null -w '%{http_code}' --cacert "${PKI_DIR}/ca.crt" -H "Authorization: Bearer ${token}" \
    -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \
    --data '{"status":{"conditions":[{"type":"UnaccountedMemory","$patch":"delete"}]}}' \
    "${server}/api/v1/nodes/fb-real-0/status")"
  [[ "${code}" == 200 ]] || { echo "the documented patch failed: HTTP ${code}" >&2; return 1; }
  [[ -z "$(e2ectl get node fb-real-0 -o 'jsonpath={.status.conditions[?(@.type=="UnaccountedMemory")].type}')" ]] ||
    { echo "the condition is still on fb-real-0 after the documented patch" >&2; return 1; }
  [[ "$(e2ectl get node fb-real-0 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]] ||
    { echo "fb-real-0 is not Ready after the patch" >&2; return 1; }
  summary result PASS
}
