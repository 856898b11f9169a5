# shellcheck shell=bash disable=SC2034  # variables are used by the scripts sourcing this file
# Common helpers of the e2e scripts: paths, ports, and process tracking by pid file.
# Every process the harness starts gets ${RUN_DIR}/pids/<name>.pid and is stopped by that
# pid only (after checking /proc/<pid>/cmdline still names the binary we started).

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${E2E_DIR}/.." && pwd)"
BIN_DIR="${E2E_DIR}/bin"
RUN_DIR="${E2E_RUN_DIR:-${E2E_DIR}/.run}"
PID_DIR="${RUN_DIR}/pids"
LOG_DIR="${RUN_DIR}/logs"
KUBECONFIG_PATH="${RUN_DIR}/kubeconfig"
PKI_DIR="${RUN_DIR}/pki"

# Loopback ports (override E2E_PORT_BASE when another cluster runs on the machine).
PORT_BASE="${E2E_PORT_BASE:-36000}"
ETCD_CLIENT_PORT=$((PORT_BASE + 379))
ETCD_PEER_PORT=$((PORT_BASE + 380))
APISERVER_PORT=$((PORT_BASE + 443))
KCM_PORT=$((PORT_BASE + 257))
SCHED_PORT=$((PORT_BASE + 259))

log() { printf '%s [e2e] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_of NAME -> prints the pid if the tracked process is alive and still ours.
pid_of() {
  local name="$1" pidfile="${PID_DIR}/$1.pid" pid cmd
  [[ -f "${pidfile}" ]] || return 1
  pid="$(<"${pidfile}")"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  kill -0 "${pid}" 2>/dev/null || return 1
  cmd="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null || true)"
  [[ -f "${PID_DIR}/${name}.cmd" ]] || return 1
  [[ "${cmd}" == "$(<"${PID_DIR}/${name}.cmd")"* ]] || return 1
  printf '%s\n' "${pid}"
}

is_running() { pid_of "$1" >/dev/null; }

# start_proc NAME CMD... : start in the background, log to ${LOG_DIR}/NAME.log.
start_proc() {
  local name="$1"; shift
  mkdir -p "${PID_DIR}" "${LOG_DIR}"
  if is_running "${name}"; then
    log "${name} already running (pid $(pid_of "${name}"))"
    return 0
  fi
  nohup "$@" >"${LOG_DIR}/${name}.log" 2>&1 </dev/null &
  local pid=$!
  printf '%s\n' "${pid}" >"${PID_DIR}/${name}.pid"
  # Record the command line (as /proc will show it once nohup has exec'd it), to recognise
  # the process later and never signal a recycled pid.
  printf '%s ' "$@" | cut -c1-200 >"${PID_DIR}/${name}.cmd"
  local i
  for ((i = 0; i < 50; i++)); do
    is_running "${name}" && break
    kill -0 "${pid}" 2>/dev/null || die "${name} exited at once; see ${LOG_DIR}/${name}.log"
    sleep 0.02
  done
  log "started ${name} (pid ${pid})"
}

# stop_procs NAME... : TERM them all at once, wait up to 10 s, then KILL; by pid only.
stop_procs() {
  local name pid i alive
  local -a names=() pids=()
  for name in "$@"; do
    if pid="$(pid_of "${name}")"; then
      kill -TERM "${pid}" 2>/dev/null || true
      names+=("${name}")
      pids+=("${pid}")
    fi
    rm -f "${PID_DIR}/${name}.pid"
  done
  for ((i = 0; i < 100; i++)); do
    alive=0
    for pid in "${pids[@]}"; do
      if kill -0 "${pid}" 2>/dev/null; then alive=1; fi
    done
    ((alive)) || break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[i]}" 2>/dev/null; then
      log "${names[i]} (pid ${pids[i]}) ignored TERM for 10 s; killing"
      kill -KILL "${pids[i]}" 2>/dev/null || true
    fi
    log "stopped ${names[i]} (pid ${pids[i]})"
    rm -f "${PID_DIR}/${names[i]}.cmd"
  done
}

stop_proc() { stop_procs "$1"; }

# wait_for_log NAME REGEX TIMEOUT_S : wait until the process log matches.
wait_for_log() {
  local name="$1" re="$2" timeout="$3" i
  for ((i = 0; i < timeout * 5; i++)); do
    if grep -Eq -- "${re}" "${LOG_DIR}/${name}.log" 2>/dev/null; then
      return 0
    fi
    is_running "${name}" || return 2
    sleep 0.2
  done
  return 1
}

# timeline_mark MESSAGE : add a line to the scenario timeline.
timeline_mark() {
  mkdir -p "${RUN_DIR}"
  printf '%s\tscenario\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$*" >>"${RUN_DIR}/timeline.log"
}

# write_kubeconfig FILE USER TOKEN HOST: a kubeconfig for the e2e API server at HOST with a
# static token (the cluster's components, the real node's kubelet and kube-proxy)
write_kubeconfig() { # FILE USER TOKEN SERVER_HOST
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://$4:${APISERVER_PORT}
    certificate-authority: ${PKI_DIR}/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: e2e
  context:
    cluster: e2e
    user: $2
current-context: e2e
EOF
  chmod 600 "$1"
}
