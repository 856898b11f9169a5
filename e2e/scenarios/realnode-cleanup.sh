# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# The real node's clean-up after a killed run (issue 14): a pod runs on the real node (its
# sandbox, network namespace, veth on the bridge, cgroups, overlay mounts, logs), then kubelet,
# kube-proxy and containerd are SIGKILLed and the harness's pid files deleted, as when a run is
# killed. The next run's `cluster.sh down`, not told of a real node, finds what is left
# (`realnode.sh left-over`) and must still remove every process (the shims and the pod's own
# included), mount, cgroup, directory, link, address, rule and sysctl, which `check-clean`
# verifies against the state noted before the node started. (Every real-node scenario also ends
# with check-clean after its normal clean-up: run.sh.)
SCENARIO_MODE=firebreak
SCENARIO_NODES=2
SCENARIO_REAL_NODE=1
SCENARIO_DESCRIPTION="real node: a killed run's leftovers are all removed (processes, mounts, cgroups, network, sysctls)"

scenario_run() {
  step "a pod on the real node"
  e2ectl apply "${E2E_DIR}/manifests/realnode-pod.yaml" >/dev/null
  e2ectl wait-for pod on-real-node --jsonpath '{.status.phase}' --equals Running --timeout 60s
  local shims pod_ip
  shims="$(pgrep -c -f "${BIN_DIR}/realnode/containerd-shim-runc-v2" || true)"
  pod_ip="$(e2ectl get pod on-real-node -o 'jsonpath={.status.podIP}')"
  [[ "${pod_ip}" == 172.30.0.* ]] || { echo "the pod got no address on the bridge: '${pod_ip}'" >&2; return 1; }
  ((shims > 0)) || { echo "no containerd shim runs" >&2; return 1; }
  summary pod "Running at ${pod_ip}, ${shims} shim(s)"

  step "kill the run: SIGKILL kubelet, kube-proxy, containerd; the pid files gone"
  local p pid
  for p in kubelet kube-proxy containerd; do
    pid="$(pid_of "${p}")" || { echo "${p} is not running" >&2; return 1; }
    kill -KILL "${pid}"
    rm -f "${PID_DIR}/${p}.pid" "${PID_DIR}/${p}.cmd"
  done
  sleep 1
  # what a killed run leaves: the pod's processes and their shims go on
  pgrep -f "${BIN_DIR}/realnode/containerd-shim-runc-v2" >/dev/null ||
    { echo "the shims died with containerd: nothing left to clean" >&2; return 1; }
  if "${E2E_DIR}/realnode.sh" check-clean 2>"${LOG_DIR}/left-after-kill.txt"; then
    echo "check-clean saw nothing left after the kill" >&2
    return 1
  fi
  summary left_by_kill "$(sed -n 's/^realnode: left on the machine: \([^ :]*\).*/\1/p' "${LOG_DIR}/left-after-kill.txt" |
    sort | uniq -c | awk '{ printf("%s%s x%d", (NR > 1 ? ", " : ""), $2, $1) }')"

  step "the next run's clean-up: cluster.sh down, not told of a real node (E2E_REAL_NODE=0)"
  local t0=${SECONDS}
  E2E_REAL_NODE=0 "${E2E_DIR}/cluster.sh" down
  "${E2E_DIR}/realnode.sh" check-clean
  summary cleaned "all of it in $((SECONDS - t0)) s"
  summary result PASS
}
