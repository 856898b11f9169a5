#!/usr/bin/env bash
# One real node beside the simulated ones: kubelet and kube-proxy built from the e2e cluster's
# Kubernetes module, containerd v2 built from its Go module, Debian's runc, the CNI plugins
# (bridge, host-local, loopback) built from their Go module. It hosts firebreak's own pods (the
# image of scripts/build-image.sh, imported into containerd); the cascades stay on fakelet's nodes.
#
#   e2e/realnode.sh prepare     clean up what a run left, note the machine's state, add the node's
#                               address (cluster.sh up does this before the API server binds it)
#   e2e/realnode.sh up          start containerd, kubelet, kube-proxy; wait until the node is Ready
#                               (the control plane must be up with E2E_REAL_NODE=1: cluster.sh)
#   e2e/realnode.sh import FILE import an image archive (docker-archive) into the node's runtime
#   e2e/realnode.sh down        stop everything and undo every change to the machine (idempotent;
#                               also after a killed run: it works from fixed names, not pid files)
#   e2e/realnode.sh check-clean fail unless the machine is as it was before `prepare`
#   e2e/realnode.sh left-over   exit 0 if anything of a real node is on the machine
#   e2e/realnode.sh logs POD-PREFIX  the container logs of the node's pods whose name starts so
#
# What `up` changes on the machine, and `down` undoes (docs/notes: real-node-recipe):
#   - processes: containerd, its shims, the pods' processes (cgroup /firebreak-e2e), kubelet,
#     kube-proxy;
#   - directories: /var/lib/firebreak-e2e (containerd's root, kubelet's root, pod logs, CNI
#     IPAM), /run/firebreak-e2e (containerd's state, socket, network namespaces), the symlinks
#     kubelet makes in /var/log/containers, mounts under both;
#   - cgroups: /firebreak-e2e (kubelet's cgroupRoot) in every hierarchy;
#   - network: the node address ${RN_IP}/32 on lo, the bridge ${RN_BRIDGE} and its veths,
#     kube-proxy's nftables tables, any KUBE-*/CNI-* iptables chains;
#   - what containerd and libcni write outside any configured directory: shim sockets in
#     /run/containerd/s, results in /var/lib/cni (what was not there at `prepare` is removed);
#   - sysctls kubelet, kube-proxy and the bridge plugin set (saved at `prepare`, restored at `down`).
# Needs root, and the machine to itself: no other real-node run (refused), no containerd of the
# machine's own (refused). Run here on cgroup v1 (hybrid); cgroup v2 is handled but not run here.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=versions.sh
source "${E2E_DIR}/versions.sh"

RN_NAME=fb-real-0
RN_IP=172.30.255.1            # the node's address (on lo): the API server binds it too
RN_POD_CIDR=172.30.0.0/24     # the bridge's pods
RN_BRIDGE=fb-e2e-br0
RN_STATE=/var/lib/firebreak-e2e
RN_RUN=/run/firebreak-e2e
RN_CGROUP=firebreak-e2e
RN_CONF="${RUN_DIR}/realnode"
RN_BIN="${BIN_DIR}/realnode"
RN_SOCK="${RN_RUN}/containerd/containerd.sock"
RN_SAVED="${RN_STATE}/saved"
KUBELET_PORT=$((PORT_BASE + 250))
KUBELET_HEALTHZ_PORT=$((PORT_BASE + 248))
PROXY_METRICS_PORT=$((PORT_BASE + 249))
PROXY_HEALTHZ_PORT=$((PORT_BASE + 256))
# the taint and label that keep everything but firebreak off the real node
RN_TAINT_KEY=firebreak.dev/e2e-real-node
# sysctls kubelet (setupKernelTunables), the bridge plugin (ip_forward) and kube-proxy may set
RN_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward
  net/ipv4/conf/all/route_localnet net/netfilter/nf_conntrack_max)
RN_PAUSE_IMAGE=localhost/firebreak-e2e/pause:1
# directories outside ours that containerd and the CNI library write to whatever the
# configuration says (the shims' sockets under /run/containerd/s, libcni's result cache):
# prepare lists what is in them, down removes what was not
RN_FOREIGN=(/run/containerd /var/lib/cni /opt/containerd)

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# ctr on the node's containerd (without the cgroup v1 deprecation warning it prints each time)
ctr_() {
  "${RN_BIN}/ctr" --address "${RN_SOCK}" --namespace k8s.io "$@" 2> >(grep -v 'support for cgroup v1 is deprecated' >&2)
}

# ---- build ---------------------------------------------------------------------------------
# The binaries, into e2e/bin/realnode/ (Go build cache: seconds when warm). kubelet and
# kube-proxy are tools of e2e/go.mod (the same Kubernetes module as the control plane);
# containerd and the CNI plugins are `go install`ed at pinned versions; pause is ours (cmd/pause).
ensure_binaries() {
  local missing=0 b
  for b in kubelet kube-proxy containerd containerd-shim-runc-v2 ctr pause cni/bridge cni/host-local cni/loopback; do
    [[ -x "${RN_BIN}/${b}" ]] || missing=1
  done
  ((missing)) || return 0
  "${E2E_DIR}/build.sh" realnode
}

ensure_packages() {
  local missing=() p
  for p in runc:runc nft:nftables iptables:iptables conntrack:conntrack socat:socat ethtool:ethtool \
    buildah:buildah; do
    command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---- the machine's state before `up`, and its restoration ---------------------------------
sysctl_path() { printf '/proc/sys/%s\n' "$1"; }

save_state() {
  mkdir -p "${RN_SAVED}"
  printf '%s\n' "${RUN_DIR}" >"${RN_SAVED}/owner"
  foreign_listing >"${RN_SAVED}/foreign"
  local s
  for s in "${RN_SYSCTLS[@]}"; do
    [[ -r "$(sysctl_path "$s")" ]] && printf '%s %s\n' "$s" "$(<"$(sysctl_path "$s")")"
  done >"${RN_SAVED}/sysctls"
  iptables_chains | sort >"${RN_SAVED}/chains"
  nft_tables >"${RN_SAVED}/tables"
}

restore_sysctls() {
  [[ -f "${RN_SAVED}/sysctls" ]] || return 0
  local s v
  while read -r s v; do
    [[ "$(<"$(sysctl_path "$s")")" == "${v}" ]] || printf '%s\n' "${v}" >"$(sysctl_path "$s")" 2>/dev/null ||
      log "could not restore ${s} to ${v}"
  done <"${RN_SAVED}/sysctls"
}

# pids of the real node's processes: those of our binaries (by /proc/PID/exe) and every process
# in the node's cgroup (the pods' containers, whatever they run)
node_pids() {
  local p exe h
  for p in /proc/[0-9]*; do
    exe="$(readlink "${p}/exe" 2>/dev/null)" || continue
    [[ "${exe}" == "${RN_BIN}/"* ]] && printf '%s\n' "${p#/proc/}"
  done
  for h in /sys/fs/cgroup/*/"${RN_CGROUP}" /sys/fs/cgroup/"${RN_CGROUP}"; do
    [[ -d "${h}" ]] || continue
    find "${h}" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
}

kill_node_processes() {
  local i pids
  for ((i = 0; i < 50; i++)); do
    mapfile -t pids < <(node_pids | sort -un)
    ((${#pids[@]} == 0)) && return 0
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.1
  done
  log "processes of the real node still alive: ${pids[*]}"
  return 1
}

node_mounts() { # deepest first
  awk -v a="${RN_STATE}" -v b="${RN_RUN}" '$2 == a || index($2, a "/") == 1 || $2 == b || index($2, b "/") == 1 { print $2 }' \
    /proc/self/mounts | sort -r
}

remove_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/"${RN_CGROUP}" /sys/fs/cgroup/"${RN_CGROUP}"; do
    [[ -d "${h}" ]] || continue
    find "${h}" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ -d "${h}" ]] && log "cgroup ${h} could not be removed"
  done
  return 0
}

# iptables_chains: "CMD TABLE CHAIN" for every KUBE-*/CNI-* chain (kubelet's canaries and hint,
# the bridge plugin's), both families
iptables_chains() {
  local cmd table
  for cmd in iptables ip6tables; do
    command -v "${cmd}" >/dev/null || continue
    for table in filter nat mangle raw; do
      "${cmd}" -t "${table}" -S 2>/dev/null | sed -n "s/^-N \(\(KUBE\|CNI\)-[^ ]*\)\$/${cmd} ${table} \1/p" || true
    done
  done
}

# foreign_listing: every path under RN_FOREIGN ("absent DIR" for one that does not exist)
foreign_listing() {
  local d
  for d in "${RN_FOREIGN[@]}"; do
    if [[ -e "${d}" ]]; then find "${d}" -mindepth 1 2>/dev/null || true; else printf 'absent %s\n' "${d}"; fi
  done | sort
}

# remove_foreign: what appeared under RN_FOREIGN since prepare (deepest first), and a directory
# that was absent; without prepare's listing, only the names a real node makes there (nothing
# else on the machine is touched)
remove_foreign() {
  local d p list="${RN_SAVED}/foreign"
  [[ -f "${list}" ]] || return 0
  for d in "${RN_FOREIGN[@]}"; do
    if grep -qxF "absent ${d}" "${list}"; then
      rm -rf --one-file-system "${d}"
      continue
    fi
    [[ -d "${d}" ]] || continue
    while read -r p; do
      grep -qxF -- "${p}" "${list}" || rm -rf --one-file-system "${p}"
    done < <(find "${d}" -mindepth 1 -depth 2>/dev/null || true)
  done
}

# nft_tables: "FAMILY NAME" of every nftables table (iptables-nft's included)
nft_tables() { nft list tables 2>/dev/null | awk '$1 == "table" { print $2, $3 }' | sort; }

# the KUBE-*/CNI-* chains that were not there before `prepare` (the rules jumping to them first),
# then the nftables tables that were not there before and now hold no rule (kube-proxy's;
# iptables-nft's tables that only kubelet's chains made). Without prepare's lists nothing is
# removed: the machine's own chains and tables are never touched.
remove_rules() {
  local cmd table chain rule fam name
  local before="${RN_SAVED}/chains" tables="${RN_SAVED}/tables"
  [[ -f "${before}" && -f "${tables}" ]] || return 0
  while read -r cmd table chain; do
    grep -qxF "${cmd} ${table} ${chain}" "${before}" && continue
    while read -r rule; do
      # shellcheck disable=SC2086 # a rule as iptables -S printed it
      "${cmd}" -t "${table}" ${rule} 2>/dev/null || true
    done < <("${cmd}" -t "${table}" -S 2>/dev/null | grep -E -- "^-A .* -j ${chain}( |\$)" | sed 's/^-A /-D /' || true)
    "${cmd}" -t "${table}" -F "${chain}" 2>/dev/null || true
    "${cmd}" -t "${table}" -X "${chain}" 2>/dev/null || true
  done < <(iptables_chains)
  while read -r fam name; do
    grep -qxF "${fam} ${name}" "${tables}" && continue
    # kube-proxy's own table goes whole; another only when nothing but empty chains is left
    if [[ "${name}" != kube-proxy ]] &&
      (($(nft list table "${fam}" "${name}" 2>/dev/null | grep -cvE '^[[:space:]]*(table .*|chain .*|type .*|\}|)$') > 0)); then
      continue
    fi
    nft delete table "${fam}" "${name}" 2>/dev/null || true
  done < <(nft_tables)
}

cmd_down() {
  stop_procs kube-proxy kubelet 2>/dev/null || true
  stop_procs containerd 2>/dev/null || true
  kill_node_processes || true
  local m
  while read -r m; do
    if [[ -n "${m}" ]]; then umount -l "${m}" 2>/dev/null || true; fi
  done < <(node_mounts)
  remove_cgroups
  # the network
  local link
  for link in $(ip -o link show master "${RN_BRIDGE}" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "${link}" 2>/dev/null || true
  done
  ip link del "${RN_BRIDGE}" 2>/dev/null || true
  ip addr del "${RN_IP}/32" dev lo 2>/dev/null || true
  remove_rules
  remove_foreign
  # kubelet's symlinks to our pod logs
  local l
  for l in /var/log/containers/*; do
    [[ -L "${l}" && "$(readlink "${l}")" == "${RN_STATE}/"* ]] && rm -f "${l}"
  done
  restore_sysctls
  rm -rf --one-file-system "${RN_RUN}" "${RN_STATE}" 2>/dev/null || true
  [[ -e "${RN_STATE}" || -e "${RN_RUN}" ]] && log "could not remove ${RN_STATE} or ${RN_RUN}"
  return 0
}

# check-clean: the machine as `up` found it (exit 1 with what is left otherwise)
cmd_check_clean() {
  local left=() h
  [[ -z "$(node_pids)" ]] || left+=("processes: $(node_pids | sort -un | paste -sd' ')")
  [[ -z "$(node_mounts)" ]] || left+=("mounts: $(node_mounts | paste -sd' ')")
  for h in /sys/fs/cgroup/*/"${RN_CGROUP}"; do [[ -d "${h}" ]] && left+=("cgroup ${h}"); done
  [[ -e "${RN_STATE}" ]] && left+=("${RN_STATE}")
  [[ -e "${RN_RUN}" ]] && left+=("${RN_RUN}")
  ip link show "${RN_BRIDGE}" >/dev/null 2>&1 && left+=("bridge ${RN_BRIDGE}")
  (($(ip -o addr show dev lo | grep -cF " ${RN_IP}/") > 0)) && left+=("address ${RN_IP} on lo")
  if [[ -f "${RUN_DIR}/realnode.tables.before" ]]; then
    local t
    t="$(comm -13 "${RUN_DIR}/realnode.tables.before" <(nft_tables) | paste -sd,)"
    [[ -z "${t}" ]] || left+=("nftables tables ${t}")
    t="$(comm -13 "${RUN_DIR}/realnode.chains.before" <(iptables_chains | sort) | paste -sd,)"
    [[ -z "${t}" ]] || left+=("iptables chains ${t}")
  fi
  [[ -n "$(find /var/log/containers -maxdepth 1 -lname "${RN_STATE}/*" -print -quit 2>/dev/null)" ]] &&
    left+=("symlinks in /var/log/containers")
  if [[ -f "${RUN_DIR}/realnode.foreign.before" ]]; then
    local f
    f="$(comm -13 "${RUN_DIR}/realnode.foreign.before" <(foreign_listing) | head -5 | paste -sd' ')"
    [[ -z "${f}" ]] || left+=("containerd/libcni files: ${f}")
  fi
  if [[ -f "${RUN_DIR}/realnode.sysctls.before" ]]; then
    local s v
    while read -r s v; do
      [[ "$(<"$(sysctl_path "$s")")" == "${v}" ]] || left+=("sysctl ${s}=$(<"$(sysctl_path "$s")") (was ${v})")
    done <"${RUN_DIR}/realnode.sysctls.before"
  fi
  if ((${#left[@]})); then
    printf 'realnode: left on the machine: %s\n' "${left[@]}" >&2
    return 1
  fi
  log "realnode: the machine is as it was (no process, mount, cgroup, directory, link, address, rule or sysctl left)"
}

# ---- configuration -------------------------------------------------------------------------
write_configs() {
  mkdir -p "${RN_CONF}/cni" "${RN_STATE}" "${RN_RUN}"
  cat >"${RN_CONF}/containerd.toml" <<EOF
# containerd v2 for the e2e real node (config version 3). Everything under ${RN_STATE} and
# ${RN_RUN}, so that clean-up knows where to look.
version = 3
root = "${RN_STATE}/containerd"
state = "${RN_RUN}/containerd"

[grpc]
  address = "${RN_SOCK}"

[ttrpc]
  address = "${RN_RUN}/containerd/containerd.sock.ttrpc"

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      # no registry is reachable: e2e/cmd/pause, imported by realnode.sh
      sandbox = '${RN_PAUSE_IMAGE}'

  [plugins.'io.containerd.cri.v1.runtime']
    # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below containerd's
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '$(command -v runc)'
          Root = '${RN_RUN}/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['${RN_BIN}/cni']
      conf_dir = '${RN_CONF}/cni'

  [plugins.'io.containerd.nri.v1.nri']
    disable = true

  [plugins.'io.containerd.internal.v1.opt']
    path = '${RN_STATE}/opt'
EOF
  cat >"${RN_CONF}/cni/10-firebreak-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "firebreak-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${RN_BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "${RN_POD_CIDR}" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "${RN_STATE}/cni"
      }
    }
  ]
}
EOF
  cat >"${RN_CONF}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# this machine: cgroup v1 (hybrid), no systemd, swap allowed
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${RN_CGROUP}
failSwapOn: false
containerRuntimeEndpoint: unix://${RN_SOCK}
podLogsDir: ${RN_STATE}/pod-logs
address: ${RN_IP}
port: ${KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${KUBELET_HEALTHZ_PORT}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${PKI_DIR}/ca.crt}
authorization:
  mode: Webhook
# the control plane's --node-monitor-grace-period is 8 s (cluster.sh): renew the Lease every 2 s
nodeLeaseDurationSeconds: 8
nodeStatusUpdateFrequency: 2s
nodeStatusReportFrequency: 4s
registerWithTaints:
  - {key: ${RN_TAINT_KEY}, value: "true", effect: NoSchedule}
maxPods: 30
# no cluster DNS in the e2e cluster; firebreak needs none (KUBERNETES_SERVICE_HOST)
resolvConf: /etc/resolv.conf
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
  write_kubeconfig "${RN_CONF}/kubelet.kubeconfig" "system:node:${RN_NAME}" "$(token_of "system:node:${RN_NAME}")" "${RN_IP}"
  write_kubeconfig "${RN_CONF}/kube-proxy.kubeconfig" system:kube-proxy "$(token_of system:kube-proxy)" "${RN_IP}"
  cat >"${RN_CONF}/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection:
  kubeconfig: ${RN_CONF}/kube-proxy.kubeconfig
hostnameOverride: ${RN_NAME}
bindAddress: ${RN_IP}
clusterCIDR: ${RN_POD_CIDR}
metricsBindAddress: 127.0.0.1:${PROXY_METRICS_PORT}
healthzBindAddress: 127.0.0.1:${PROXY_HEALTHZ_PORT}
# leave the machine's conntrack settings alone
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
EOF
}

# token_of USER: the user's token in the control plane's tokens.csv (cluster.sh writes one for
# the node and kube-proxy when E2E_REAL_NODE=1)
token_of() {
  local t
  t="$(awk -F, -v u="$1" '$2 == u { print $1 }' "${PKI_DIR}/tokens.csv")"
  [[ -n "${t}" ]] || die "no token for $1 in ${PKI_DIR}/tokens.csv (start the cluster with E2E_REAL_NODE=1)"
  printf '%s\n' "${t}"
}


# ---- up --------------------------------------------------------------------------------------
wait_sock() {
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -S "${RN_SOCK}" ]] && ctr_ version >/dev/null 2>&1 && return 0
    is_running containerd || die "containerd exited; see ${LOG_DIR}/containerd.log"
    sleep 0.1
  done
  die "containerd not answering on ${RN_SOCK} after 30 s; see ${LOG_DIR}/containerd.log"
}

# the pause image: cmd/pause, static, as a one-file image, imported under RN_PAUSE_IMAGE
import_pause() {
  local ctr archive="${RN_CONF}/pause.tar"
  if [[ ! -f "${archive}" ]]; then
    ctr="$(buildah from scratch)"
    buildah copy -q "${ctr}" "${RN_BIN}/pause" /pause >/dev/null
    buildah config --entrypoint '["/pause"]' --user 65535:65535 "${ctr}"
    buildah commit --rm -q "${ctr}" "${RN_PAUSE_IMAGE}" >/dev/null
    buildah push -q "${RN_PAUSE_IMAGE}" "docker-archive:${archive}:${RN_PAUSE_IMAGE}" >/dev/null
  fi
  ctr_ images import --local "${archive}" >/dev/null
}

cmd_import() {
  [[ -r "${1:-}" ]] || die "import: no such archive ${1:-}"
  ctr_ images import --local "$1" >/dev/null || die "import of $1 failed"
  log "imported $1 into the real node's containerd: $(ctr_ images ls -q | grep -v '^sha256:' | grep -v pause | paste -sd' ')"
}

# owner_alive: the run that prepared the node (its RUN_DIR) still has its API server
owner_alive() {
  local owner pid
  owner="$(cat "${RN_SAVED}/owner" 2>/dev/null)" || return 1
  [[ -n "${owner}" && "${owner}" != "${RUN_DIR}" ]] || return 1
  pid="$(cat "${owner}/pids/kube-apiserver.pid" 2>/dev/null)" || return 1
  [[ "${pid}" =~ ^[0-9]+$ ]] && kill -0 "${pid}" 2>/dev/null
}

cmd_prepare() {
  [[ "$(id -u)" -eq 0 ]] || die "the real node needs root"
  # one real node per machine: its names are fixed
  ! owner_alive || die "another e2e run ($(cat "${RN_SAVED}/owner")) has the real node; one at a time"
  # containerd keeps its shims' sockets in /run/containerd/s whatever its configuration: another
  # containerd's would be mixed with ours
  local p exe
  for p in $(pgrep -x containerd || true); do
    exe="$(readlink "/proc/${p}/exe" 2>/dev/null)" || continue
    [[ "${exe}" == "${RN_BIN}/"* ]] || die "a containerd of the machine's own runs (pid ${p}); the real node needs it stopped"
  done
  ensure_packages
  ensure_binaries
  cmd_down
  mkdir -p "${RUN_DIR}"
  save_state
  # what check-clean compares with (kept outside the state directory, which down removes)
  local f
  for f in sysctls tables foreign chains; do cp "${RN_SAVED}/${f}" "${RUN_DIR}/realnode.${f}.before"; done
  ip addr add "${RN_IP}/32" dev lo
}

# left-over: something of a real node is on the machine, and not another live run's
cmd_left_over() {
  owner_alive && return 1
  [[ -e "${RN_STATE}" || -e "${RN_RUN}" ]] && return 0
  (($(ip -o addr show dev lo 2>/dev/null | grep -cF " ${RN_IP}/") > 0)) && return 0
  [[ -n "$(node_pids)" ]]
}

cmd_up() {
  [[ -f "${PKI_DIR}/tokens.csv" ]] || die "start the control plane first (E2E_REAL_NODE=1 e2e/cluster.sh up)"
  (($(ip -o addr show dev lo | grep -cF " ${RN_IP}/") > 0)) || die "the node's address is missing (realnode.sh prepare)"
  local t0=${SECONDS} h s
  write_configs
  # kubelet wants its cgroupRoot to exist: in every v1 hierarchy (this machine: v1 with a
  # cgroup2 mount at unified/), or at the top of a pure cgroup v2 tree (not run here)
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    mkdir -p "/sys/fs/cgroup/${RN_CGROUP}"
  else
    for h in /sys/fs/cgroup/*/; do
      [[ "${h}" == */unified/ ]] && continue
      mkdir -p "${h}${RN_CGROUP}"
    done
  fi
  PATH="${RN_BIN}:${PATH}" start_proc containerd "${RN_BIN}/containerd" --config "${RN_CONF}/containerd.toml"
  wait_sock
  import_pause
  start_proc kubelet "${RN_BIN}/kubelet" --config "${RN_CONF}/kubelet.yaml" \
    --kubeconfig "${RN_CONF}/kubelet.kubeconfig" --hostname-override "${RN_NAME}" \
    --node-ip "${RN_IP}" --root-dir "${RN_STATE}/kubelet" --cert-dir "${RN_STATE}/kubelet/pki" \
    --node-labels "${RN_TAINT_KEY}=true,topology.kubernetes.io/zone=zone-real" --v=1
  start_proc kube-proxy "${RN_BIN}/kube-proxy" --config "${RN_CONF}/kube-proxy.yaml" --v=1
  local i
  for ((i = 0; ; i++)); do
    KUBECONFIG="${KUBECONFIG_PATH}" "${BIN_DIR}/e2ectl" wait-for node "${RN_NAME}" \
      --jsonpath '{.status.conditions[?(@.type=="Ready")].status}' --equals True --timeout 5s >/dev/null 2>&1 && break
    for s in containerd kubelet kube-proxy; do
      is_running "${s}" || { tail -5 "${LOG_DIR}/${s}.log" >&2; die "${s} exited; see ${LOG_DIR}/${s}.log"; }
    done
    ((i < 24)) || die "node ${RN_NAME} not Ready after 120 s; see ${LOG_DIR}/kubelet.log"
  done
  log "real node ${RN_NAME} Ready in $((SECONDS - t0)) s (${RN_IP}, pods ${RN_POD_CIDR})"
}

# logs POD-PREFIX: every container log of the node's pods whose name starts with POD-PREFIX
cmd_logs() {
  local d
  for d in "${RN_STATE}/pod-logs"/*_"${1:-}"*; do
    [[ -d "${d}" ]] || continue
    find "${d}" -name '*.log' -print0 | sort -z | xargs -0 -r tail -n +1
  done
}

main() {
  local cmd="${1:-}"
  [[ -n "${cmd}" ]] || usage
  shift
  case "${cmd}" in
    prepare) cmd_prepare ;;
    up) cmd_up ;;
    left-over) cmd_left_over ;;
    down) cmd_down ;;
    check-clean) cmd_check_clean ;;
    import) cmd_import "$@" ;;
    logs) cmd_logs "$@" ;;
    *) usage ;;
  esac
}

main "$@"
