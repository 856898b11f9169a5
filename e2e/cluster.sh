#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, with simulated kubelets.
#
#   e2e/cluster.sh up [--mode baseline|firebreak|managed] [--nodes N]   start (idempotent)
#   e2e/cluster.sh down                                         stop everything (idempotent)
#   e2e/cluster.sh status                                       processes and nodes
#   e2e/cluster.sh fail-node NAME | revive-node NAME            stop / resume a node's heartbeat
#   e2e/cluster.sh restart-apiserver [--kill] [--down S]        stop kube-apiserver, start it again
#   e2e/cluster.sh kubeconfig                                   print the admin kubeconfig path
#
# Modes: baseline  = stock kube-controller-manager (taint-based eviction on)
#        firebreak = --controllers='*,-taint-eviction-controller'
#        managed   = stock kube-controller-manager, as on a managed cluster (EKS, GKE, AKS),
#                    where firebreak runs --managed (docs/operations.md §1)
# Tunables (environment): E2E_NODES (6), E2E_ZONES (zone-a,zone-b,zone-c),
#   E2E_TOLERATION_SECONDS (10: default not-ready/unreachable tolerations),
#   E2E_GRACE (8s: --node-monitor-grace-period), E2E_POISON_DELAY (10s),
#   E2E_PORT_BASE (36000), E2E_RUN_DIR (e2e/.run),
#   E2E_REAL_NODE (0; 1: also one real node, e2e/realnode.sh: the API server then binds the
#   node's address 172.30.255.1 instead of loopback, with the service CIDR 172.30.128.0/24, the
#   Node authorizer and NodeRestriction, and the `kubernetes` Service's endpoint kept).
# Writes the admin kubeconfig to e2e/.run/kubeconfig.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=versions.sh
source "${E2E_DIR}/versions.sh"

FAKELET_DIR="${RUN_DIR}/fakelet"
CLUSTER_ENV="${RUN_DIR}/cluster.env"
REAL_NODE="${E2E_REAL_NODE:-0}"
# the real node's address (e2e/realnode.sh RN_IP) and service CIDR: pods must reach the API
# server, so neither may be loopback
REAL_NODE_IP=172.30.255.1
if [[ "${REAL_NODE}" == 1 ]]; then
  API_HOST="${REAL_NODE_IP}"
  SERVICE_CIDR="${E2E_SERVICE_CIDR:-172.30.128.0/24}"
else
  API_HOST=127.0.0.1
  SERVICE_CIDR="${E2E_SERVICE_CIDR:-127.200.0.0/24}"
fi
SERVICE_IP="${SERVICE_CIDR%.*/*}.1"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler fakelet)
[[ "${REAL_NODE}" != 1 ]] || COMPONENTS+=(containerd kubelet kube-proxy)

MODE="${E2E_MODE:-baseline}"
NODES="${E2E_NODES:-6}"
ZONES="${E2E_ZONES:-zone-a,zone-b,zone-c}"
TOLERATION="${E2E_TOLERATION_SECONDS:-10}"
GRACE="${E2E_GRACE:-8s}"
POISON_DELAY="${E2E_POISON_DELAY:-10s}"

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_binaries() {
  local b missing=0
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler fakelet e2ectl; do
    [[ -x "${BIN_DIR}/${b}" ]] || missing=1
  done
  if ((missing)); then
    log "binaries missing in ${BIN_DIR}: building"
    "${E2E_DIR}/build.sh"
  fi
}


ensure_pki() {
  mkdir -p "${PKI_DIR}"
  local stamp="${APISERVER_PORT} ${API_HOST} ${SERVICE_IP} v2"
  if [[ -f "${PKI_DIR}/pki.stamp" ]] && [[ "$(<"${PKI_DIR}/pki.stamp")" == "${stamp}" ]]; then
    return 0
  fi
  log "generating certificates and tokens in ${PKI_DIR}"
  (
    cd "${PKI_DIR}"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=firebreak-e2e-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf '%s\n' \
      "subjectAltName=IP:127.0.0.1,IP:${API_HOST},IP:${SERVICE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
      "extendedKeyUsage=serverAuth" "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" \
      >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
      -days 3650 -extfile apiserver.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    admin="$(openssl rand -hex 16)" kcm="$(openssl rand -hex 16)" sched="$(openssl rand -hex 16)"
    {
      printf '%s,admin,admin-uid,"system:masters"\n' "${admin}"
      printf '%s,system:kube-controller-manager,kcm-uid\n' "${kcm}"
      printf '%s,system:kube-scheduler,sched-uid\n' "${sched}"
      # the real node's kubelet (Node authorizer: system:node:NAME in system:nodes) and
      # kube-proxy (bound to system:node-proxier by the default RBAC)
      printf '%s,system:node:fb-real-0,node-fb-real-0-uid,"system:nodes"\n' "$(openssl rand -hex 16)"
      printf '%s,system:kube-proxy,kube-proxy-uid\n' "$(openssl rand -hex 16)"
    } >tokens.csv
    chmod 600 ./*.key tokens.csv
    write_kubeconfig admin.kubeconfig admin "${admin}" "${API_HOST}"
    write_kubeconfig kcm.kubeconfig system:kube-controller-manager "${kcm}" "${API_HOST}"
    write_kubeconfig scheduler.kubeconfig system:kube-scheduler "${sched}" "${API_HOST}"
    printf '%s\n' "${stamp}" >"pki.stamp"
  )
}

config_line() {
  printf 'MODE=%s NODES=%s ZONES=%s TOLERATION=%s GRACE=%s POISON_DELAY=%s PORT_BASE=%s REAL_NODE=%s\n' \
    "${MODE}" "${NODES}" "${ZONES}" "${TOLERATION}" "${GRACE}" "${POISON_DELAY}" "${PORT_BASE}" "${REAL_NODE}"
}

all_running() {
  local c
  for c in "${COMPONENTS[@]}"; do
    is_running "${c}" || return 1
  done
}

wait_port() { # NAME PORT TIMEOUT_S
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    port_open "$2" && return 0
    is_running "$1" || die "$1 exited; see ${LOG_DIR}/$1.log"
    sleep 0.1
  done
  die "$1 not listening on 127.0.0.1:$2 after $3 s; see ${LOG_DIR}/$1.log"
}

# The API server's flags, in one place for `up` and `restart-apiserver`.
start_apiserver() {
  local -a real=(--endpoint-reconciler-type none --authorization-mode RBAC)
  if [[ "${REAL_NODE}" == 1 ]]; then
    # as a real cluster: kubelets authorized as nodes, the `kubernetes` Service's endpoint kept
    # (in-cluster clients), kubectl logs/exec by the node's address
    # shellcheck disable=SC2054 # Node,RBAC is one flag value
    real=(--endpoint-reconciler-type lease --authorization-mode Node,RBAC
      --enable-admission-plugins NodeRestriction --kubelet-preferred-address-types InternalIP,Hostname)
  fi
  start_proc kube-apiserver "${BIN_DIR}/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
    --bind-address "${API_HOST}" --advertise-address "${API_HOST}" --secure-port "${APISERVER_PORT}" \
    --tls-cert-file "${PKI_DIR}/apiserver.crt" --tls-private-key-file "${PKI_DIR}/apiserver.key" \
    --client-ca-file "${PKI_DIR}/ca.crt" --token-auth-file "${PKI_DIR}/tokens.csv" \
    "${real[@]}" \
    --service-account-issuer "https://${API_HOST}:${APISERVER_PORT}" \
    --service-account-key-file "${PKI_DIR}/sa.pub" \
    --service-account-signing-key-file "${PKI_DIR}/sa.key" \
    --service-cluster-ip-range "${SERVICE_CIDR}" \
    --default-not-ready-toleration-seconds "${TOLERATION}" \
    --default-unreachable-toleration-seconds "${TOLERATION}" \
    --allow-privileged --profiling=false
  KUBECONFIG="${PKI_DIR}/admin.kubeconfig" "${BIN_DIR}/e2ectl" ready --nodes 0 --timeout 90s >/dev/null ||
    die "kube-apiserver not ready; see ${LOG_DIR}/kube-apiserver.log"
}

cmd_up() {
  command -v openssl >/dev/null || die "openssl is required (apt-get install openssl)"
  ensure_binaries
  if all_running && [[ -f "${CLUSTER_ENV}" ]] && [[ "$(<"${CLUSTER_ENV}")" == "$(config_line)" ]]; then
    log "cluster already up ($(config_line))"
    return 0
  fi
  cmd_down >/dev/null 2>&1 || true
  local t0=${SECONDS} c
  for c in "${COMPONENTS[@]}"; do
    ! is_running "${c}" || die "${c} still running"
  done
  for p in "${ETCD_CLIENT_PORT}" "${ETCD_PEER_PORT}" "${APISERVER_PORT}" "${KCM_PORT}" "${SCHED_PORT}"; do
    ! port_open "${p}" || die "127.0.0.1:${p} is in use (set E2E_PORT_BASE)"
  done
  rm -rf "${RUN_DIR}/etcd" "${FAKELET_DIR}" "${LOG_DIR}" "${RUN_DIR}/timeline.log"
  mkdir -p "${RUN_DIR}" "${LOG_DIR}" "${FAKELET_DIR}/dead"
  # the real node's address must exist before the API server binds it
  [[ "${REAL_NODE}" != 1 ]] || "${E2E_DIR}/realnode.sh" prepare
  ensure_pki
  config_line >"${CLUSTER_ENV}"
  log "starting cluster: $(config_line)"

  start_proc etcd "${BIN_DIR}/etcd" --name e2e --data-dir "${RUN_DIR}/etcd" \
    --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
    --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
    --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster "e2e=http://127.0.0.1:${ETCD_PEER_PORT}" \
    --unsafe-no-fsync --log-level warn
  wait_port etcd "${ETCD_CLIENT_PORT}" 30

  start_apiserver
  cp "${PKI_DIR}/admin.kubeconfig" "${KUBECONFIG_PATH}"

  local controllers='*'
  [[ "${MODE}" == firebreak ]] && controllers='*,-taint-eviction-controller'
  start_proc kube-controller-manager "${BIN_DIR}/kube-controller-manager" \
    --kubeconfig "${PKI_DIR}/kcm.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${KCM_PORT}" --cert-dir "${RUN_DIR}/kcm-certs" \
    --leader-elect=false --controllers "${controllers}" \
    --node-monitor-period 1s --node-monitor-grace-period "${GRACE}" --node-startup-grace-period 20s \
    --use-service-account-credentials \
    --service-account-private-key-file "${PKI_DIR}/sa.key" --root-ca-file "${PKI_DIR}/ca.crt" \
    --cluster-name e2e --profiling=false --v=2
  start_proc kube-scheduler "${BIN_DIR}/kube-scheduler" \
    --kubeconfig "${PKI_DIR}/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${SCHED_PORT}" --cert-dir "${RUN_DIR}/scheduler-certs" \
    --leader-elect=false --profiling=false
  # a fresh /proc tree a node (no process of an earlier run)
  [[ -z "${E2E_PROC_TREES:-}" ]] || { rm -rf "${E2E_PROC_TREES}" && mkdir -p "${E2E_PROC_TREES}"; }
  start_proc fakelet "${BIN_DIR}/fakelet" --kubeconfig "${KUBECONFIG_PATH}" \
    --nodes "${NODES}" --zones "${ZONES}" --state-dir "${FAKELET_DIR}" \
    --poison-delay "${POISON_DELAY}" --kubelet-version "${K8S_VERSION}" \
    ${E2E_PROC_TREES:+--proc-trees "${E2E_PROC_TREES}"}

  KUBECONFIG="${KUBECONFIG_PATH}" "${BIN_DIR}/e2ectl" ready --nodes "${NODES}" --timeout 90s ||
    die "nodes not Ready; see ${LOG_DIR}/"
  [[ "${REAL_NODE}" != 1 ]] || "${E2E_DIR}/realnode.sh" up
  log "cluster up in $((SECONDS - t0)) s (mode ${MODE}, ${NODES} nodes); export KUBECONFIG=${KUBECONFIG_PATH}"
}

cmd_down() {
  local f name
  local -a extra=()
  # the real node first (its kubelet talks to the API server), and whatever a killed run left
  if [[ "${REAL_NODE}" == 1 ]] || "${E2E_DIR}/realnode.sh" left-over; then
    "${E2E_DIR}/realnode.sh" down
  fi
  # Extra processes started by the runner (firebreak, watcher) first, then the cluster.
  if [[ -d "${PID_DIR}" ]]; then
    for f in "${PID_DIR}"/*.pid; do
      [[ -e "${f}" ]] || continue
      name="$(basename "${f}" .pid)"
      [[ " ${COMPONENTS[*]} " == *" ${name} "* ]] || extra+=("${name}")
    done
  fi
  ((${#extra[@]} == 0)) || stop_procs "${extra[@]}"
  stop_procs fakelet kube-scheduler kube-controller-manager kube-apiserver
  stop_procs etcd
  rm -f "${CLUSTER_ENV}"
  log "cluster down"
}

cmd_status() {
  local c pid rc=0
  for c in "${COMPONENTS[@]}"; do
    if pid="$(pid_of "${c}")"; then
      printf '%-24s running (pid %s)\n' "${c}" "${pid}"
    else
      printf '%-24s stopped\n' "${c}"
      rc=3
    fi
  done
  [[ -f "${CLUSTER_ENV}" ]] && printf 'config: %s\n' "$(<"${CLUSTER_ENV}")"
  if ((rc == 0)); then
    printf 'kubeconfig: %s\nnodes: %s\n' "${KUBECONFIG_PATH}" \
      "$(KUBECONFIG="${KUBECONFIG_PATH}" "${BIN_DIR}/e2ectl" nodes 2>/dev/null || echo '?')"
    if compgen -G "${FAKELET_DIR}/dead/*" >/dev/null; then
      printf 'failed nodes: %s\n' "$(find "${FAKELET_DIR}/dead" -type f -printf '%f ')"
    fi
  fi
  return "${rc}"
}

# restart-apiserver [--kill] [--down SECONDS]: stop kube-apiserver (TERM, or KILL as in a
# crash), keep it down for SECONDS (default 0), start it again with the same flags and wait
# until it answers. Every client's watches break; etcd keeps the state.
cmd_restart_apiserver() {
  local sig=TERM down=0 pid
  while (($#)); do
    case "$1" in
      --kill) sig=KILL; shift ;;
      --down) down="$2"; shift 2 ;;
      *) usage ;;
    esac
  done
  pid="$(pid_of kube-apiserver)" || die "kube-apiserver is not running"
  if [[ "${sig}" == KILL ]]; then
    kill -KILL "${pid}"
    while kill -0 "${pid}" 2>/dev/null; do sleep 0.05; done
    rm -f "${PID_DIR}/kube-apiserver.pid" "${PID_DIR}/kube-apiserver.cmd"
    log "kube-apiserver (pid ${pid}) killed"
  else
    stop_proc kube-apiserver
  fi
  sleep "${down}"
  # start_proc truncates the log; keep the previous run's for the artifacts.
  cp "${LOG_DIR}/kube-apiserver.log" "${LOG_DIR}/kube-apiserver.$(date +%s).log" 2>/dev/null || true
  start_apiserver
  log "kube-apiserver restarted"
}

cmd_fail_node() {
  [[ -n "${1:-}" ]] || usage
  mkdir -p "${FAKELET_DIR}/dead"
  printf 'on demand\n' >"${FAKELET_DIR}/dead/$1"
  log "node $1: heartbeat stopped"
}

cmd_revive_node() {
  [[ -n "${1:-}" ]] || usage
  rm -f "${FAKELET_DIR}/dead/$1"
  log "node $1: heartbeat resumed"
}

main() {
  local cmd="${1:-}"
  [[ -n "${cmd}" ]] || usage
  shift
  local args=()
  while (($#)); do
    case "$1" in
      --mode) MODE="$2"; shift 2 ;;
      --mode=*) MODE="${1#*=}"; shift ;;
      --nodes) NODES="$2"; shift 2 ;;
      --nodes=*) NODES="${1#*=}"; shift ;;
      -h | --help) usage ;;
      *) args+=("$1"); shift ;;
    esac
  done
  [[ "${MODE}" == baseline || "${MODE}" == firebreak || "${MODE}" == managed ]] ||
    die "unknown mode ${MODE}"
  if ! [[ "${NODES}" =~ ^[0-9]+$ ]] || ((NODES < 1 || NODES > 250)); then
    die "bad node count ${NODES}"
  fi
  case "${cmd}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    fail-node) cmd_fail_node "${args[@]}" ;;
    revive-node) cmd_revive_node "${args[@]}" ;;
    restart-apiserver) cmd_restart_apiserver "${args[@]}" ;;
    kubeconfig) printf '%s\n' "${KUBECONFIG_PATH}" ;;
    *) usage ;;
  esac
}

main "$@"
