#!/usr/bin/env bash
# Run e2e scenarios, each on a fresh cluster in the scenario's mode.
#
#   e2e/run.sh [--strict] [--keep] [--events] [scenario...]   (default: every e2e/scenarios/*.sh)
#
# Per scenario: build (cached), cluster.sh up --mode M --nodes N, start the timeline
# watcher, run scenario_run, print PASS/FAIL/SKIP with the observed timeline, cluster.sh down.
# Exit status: 1 if any scenario failed; skipped scenarios (exit 77, e.g. firebreak binary not
# built yet) do not fail the run unless --strict. --keep leaves the last cluster running;
# --events also prints the scenario's Kubernetes Events (always saved to events.txt).
# Artifacts (logs, timeline) of each scenario: e2e/.run/results/<scenario>/.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SKIP_RC=77
strict=0
keep=0
show_events=0
scenarios=()
while (($#)); do
  case "$1" in
    --strict) strict=1 ;;
    --keep) keep=1 ;;
    --events) show_events=1 ;;
    -h | --help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) scenarios+=("$1") ;;
  esac
  shift
done
if ((${#scenarios[@]} == 0)); then
  for f in "${E2E_DIR}"/scenarios/*.sh; do
    scenarios+=("$(basename "${f}" .sh)")
  done
fi
for s in "${scenarios[@]}"; do
  [[ -f "${E2E_DIR}/scenarios/${s}.sh" ]] || die "no such scenario: ${s} (see ${E2E_DIR}/scenarios/)"
done

t_build=${SECONDS}
"${E2E_DIR}/build.sh"
log "build step took $((SECONDS - t_build)) s"

# ---- helpers available to scenario_run ----
# shellcheck disable=SC2317  # called from the sourced scenario files
{
e2ectl() { KUBECONFIG="${KUBECONFIG_PATH}" "${BIN_DIR}/e2ectl" "$@"; }
fail_node() { "${E2E_DIR}/cluster.sh" fail-node "$1"; timeline_mark "fail-node $1"; }
revive_node() { "${E2E_DIR}/cluster.sh" revive-node "$1"; timeline_mark "revive-node $1"; }
start_bg() { start_proc "$@"; }   # start_bg NAME CMD... (stopped by cluster.sh down)
skip() { log "SKIP: $*"; exit "${SKIP_RC}"; }
restart_apiserver() { timeline_mark "restart kube-apiserver $*"; "${E2E_DIR}/cluster.sh" restart-apiserver "$@"; }
step() { log "-- $*"; timeline_mark "$*"; }
# firebreak-mode helpers
FB_BIN="${FB_BIN:-${REPO_DIR}/build/release/controller/firebreak}"
need_firebreak() { [[ -x "${FB_BIN}" ]] || skip "firebreak binary not found at ${FB_BIN} (build it first, or set FB_BIN)"; }
apply_crds() { e2ectl apply "${REPO_DIR}/config/crds/" --field-manager e2e; }
# The quarantine gate (docs/operations.md §8). firebreak runs outside the cluster, so the API
# server calls its webhook by URL. install_webhook PORT [HELM ARGS...]: the chart's own
# MutatingWebhookConfiguration (helm template, release FB_WEBHOOK_RELEASE in namespace
# FB_WEBHOOK_NAMESPACE, webhook.url=https://127.0.0.1:PORT/mutate-pods), so the webhook is never
# called in kube-system, kube-node-lease and FB_WEBHOOK_NAMESPACE, nor for pods labelled
# firebreak.dev/webhook=skip; the namespace is created (firebreak keeps its Secret there). A
# configuration of the same name applied before (chart-e2e.sh's, by Service) is replaced. Without
# caBundle: firebreak writes it, as in the chart's self mode.
FB_WEBHOOK_NAMESPACE="${FB_WEBHOOK_NAMESPACE:-firebreak-system}"
FB_WEBHOOK_RELEASE=firebreak
install_webhook() {
  local port="$1" helm
  shift
  # shellcheck source=versions.sh
  source "${E2E_DIR}/versions.sh"
  # shellcheck source=../scripts/go-tools.sh
  helm="$(source "${REPO_DIR}/scripts/go-tools.sh" && fb_tool helm)" || return 1
  {
    printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n' "${FB_WEBHOOK_NAMESPACE}"
    "${helm}" template "${FB_WEBHOOK_RELEASE}" "${REPO_DIR}/charts/firebreak" \
      --namespace "${FB_WEBHOOK_NAMESPACE}" --kube-version "${K8S_VERSION#v}" \
      --show-only templates/mutatingwebhookconfiguration.yaml \
      --set webhook.url="https://127.0.0.1:${port}/mutate-pods" "$@"
  } >"${RUN_DIR}/webhook.yaml" || return 1
  e2ectl delete mutatingwebhookconfiguration "${FB_WEBHOOK_RELEASE}" --ignore-not-found >/dev/null
  e2ectl apply "${RUN_DIR}/webhook.yaml" --field-manager e2e
  timeline_mark "webhook installed: https://127.0.0.1:${port}/mutate-pods"
}
# start_firebreak NAME PORT [--webhook WPORT] [FLAGS...]: start a firebreak replica (admin
# kubeconfig, metrics on 127.0.0.1:PORT) and wait for its informers to sync. With --webhook it
# serves the quarantine gate on 127.0.0.1:WPORT (install_webhook WPORT points the API server at
# it): its serving certificate names 127.0.0.1, its Secret and the configuration whose caBundle it
# keeps are install_webhook's. Without, the webhook is off (--webhook-addr ""), as before it existed.
start_firebreak() {
  local name="$1" port="$2"
  shift 2
  if [[ "${FB_MANAGED:-0}" == 1 && "${1:-}" != --webhook ]]; then
    # a managed variant (managed_variant): every replica --managed behind its own webhook on
    # PORT+1363; the configuration points at the replica started last
    install_webhook "$((port + 1363))"
    set -- --webhook "$((port + 1363))" --managed "$@"
  fi
  local -a webhook=(--webhook-addr "")
  if [[ "${1:-}" == --webhook ]]; then
    webhook=(--webhook-addr "127.0.0.1:$2" --namespace "${FB_WEBHOOK_NAMESPACE}" --webhook-san 127.0.0.1
      --webhook-config "${FB_WEBHOOK_RELEASE}" --webhook-secret "${FB_WEBHOOK_RELEASE}-webhook-tls")
    shift 2
  fi
  start_bg "${name}" "${FB_BIN}" --kubeconfig "${KUBECONFIG}" --metrics-addr "127.0.0.1:${port}" \
    "${webhook[@]}" "$@"
  if ! wait_for_log "${name}" 'msg="?informers synced' 60; then
    tail -n 30 "${LOG_DIR}/${name}.log" >&2 || true
    echo "${name} did not report informers synced within 60 s" >&2
    return 1
  fi
}
# firebreak-node (issue 16), one a node, each over the /proc tree fakelet writes for its node
# (SCENARIO_PROC_TREES=1, e2e/cmd/fakelet/proctree.go).
FBN_BIN="${FBN_BIN:-${REPO_DIR}/build/release/node/firebreak-node}"
PROC_TREES="${RUN_DIR}/proc-trees"
need_agent() { [[ -x "${FBN_BIN}" ]] || skip "firebreak-node not found at ${FBN_BIN} (build it first, or set FBN_BIN)"; }
# start_agents NODES [FLAGS...]: firebreak-node watch on node-1..node-NODES, sampling every
# second, its condition's heartbeat every 5 s, metrics on 127.0.0.1:(19100 + N), @NODE@ in a flag
# replaced by the node's name; it waits until each has written its condition.
start_agents() {
  local n="$1" i
  shift
  for ((i = 1; i <= n; i++)); do
    start_bg "agent-node-${i}" "${FBN_BIN}" watch --root "${PROC_TREES}/node-${i}" --node "node-${i}" \
      --kubeconfig "${KUBECONFIG}" --interval 1 --heartbeat 5 --metrics-addr "127.0.0.1:$((19100 + i))" \
      "${@//@NODE@/node-${i}}"
  done
  for ((i = 1; i <= n; i++)); do
    wait_for_log "agent-node-${i}" 'condition written' 30 ||
      { tail -n 20 "${LOG_DIR}/agent-node-${i}.log" >&2; echo "agent of node-${i} wrote no condition" >&2; return 1; }
  done
}
# fb_log_time NAME REGEX: the ts= of the first matching line of a firebreak log, as epoch seconds.
fb_log_time() {
  local ts
  ts="$(grep -m1 -E -- "$2" "${LOG_DIR}/$1.log" | sed -n 's/^ts=\([^ ]*\).*/\1/p')"
  [[ -n "${ts}" ]] && date -u -d "${ts}" +%s.%N
}
# deploy_innocent [API_REPLICAS]: the innocent workloads most scenarios run (web, 6 replicas;
# api, API_REPLICAS or 6), waited for until available.
deploy_innocent() {
  step "deploy innocent workloads"
  e2ectl deploy web --replicas 6
  e2ectl deploy api --replicas "${1:-6}"
  e2ectl rollout web api --timeout 60s
}
# Managed mode (docs/operations.md §1): Kubernetes' taint-eviction controller on
# (SCENARIO_MODE=managed), firebreak --managed behind its webhook.
# managed_variant SCENARIO: a managed-* scenario file runs the self-managed SCENARIO unchanged
# in managed mode (start_firebreak adds the webhook and --managed), then checks that every live
# pod of the namespace is covered (recording the cluster's 10 s) and that the taint-eviction
# controller deleted none.
managed_variant() {
  # shellcheck source=/dev/null
  source "${E2E_DIR}/scenarios/$1.sh"
  SCENARIO_MODE=managed
  FB_MANAGED=1
  SCENARIO_DESCRIPTION="managed: ${SCENARIO_DESCRIPTION}"
  eval "base_$(declare -f scenario_run)"
  scenario_run() {
    base_scenario_run
    step "managed mode: every live pod covered, none deleted by the taint-eviction controller"
    e2ectl expect-covered --seconds "${E2E_TOLERATION_SECONDS:-10}" --count 0 --timeout 30s
    expect_no_taint_evictions
  }
}
# taint_evictions [REGEX]: pods (whose name matches REGEX, default all) the taint-eviction
# controller deleted so far: the pods the timeline saw terminating with the DisruptionTarget
# reason DeletionByTaintManager, and the TaintManagerEviction Events "Marking for deletion".
# Prints "<timeline count> <event count>".
taint_evictions() {
  local re="${1:-.}" tl ev
  tl="$(grep -E 'terminating on .*\(DeletionByTaintManager\)' "${RUN_DIR}/timeline.log" 2>/dev/null |
    grep -cE "pod [^ ]*(${re})" || true)"
  ev="$(e2ectl events 2>/dev/null | grep -E 'TaintManagerEviction .*Marking for deletion' |
    grep -cE "Pod/[^:]*(${re})" || true)"
  echo "${tl:-0} ${ev:-0}"
}
# expect_no_taint_evictions [REGEX]: fails when the taint-eviction controller deleted a pod.
expect_no_taint_evictions() {
  local n
  read -r -a n <<<"$(taint_evictions "${1:-.}")"
  summary taint_manager_evictions "${n[0]} (timeline) ${n[1]} (Events)"
  if ((n[0] != 0 || n[1] != 0)); then
    grep -E 'DeletionByTaintManager' "${RUN_DIR}/timeline.log" >&2 || true
    echo "the taint-eviction controller deleted covered pods" >&2
    return 1
  fi
}
# terminated_on NODE: the pods of NODE terminating so far, counted by reason (the timeline's
# "terminating on NODE ... (REASON)" lines), e.g. "      2 DeletionByTaintManager". The
# watcher is a process of its own and may write a moment after e2ectl expect-evicted has seen
# the pods go: it waits (5 s at most) until the timeline holds as many as the API server shows
# terminating on NODE.
terminated_on() {
  local want have i
  for ((i = 0; i < 25; i++)); do
    want="$(e2ectl get pods -A -o "jsonpath={range .items[?(@.spec.nodeName==\"$1\")]}{.metadata.deletionTimestamp}{\"\\n\"}{end}" |
      grep -c . || true)"
    have="$(grep -cE "terminating on $1 " "${RUN_DIR}/timeline.log" || true)"
    ((have >= want)) && break
    sleep 0.2
  done
  grep -E "terminating on $1 " "${RUN_DIR}/timeline.log" | sed -n 's/.*(\(.*\))$/\1/p' | sort | uniq -c | paste -sd' '
}
# managed_covering NAME: CRDs, the webhook on 19443, firebreak NAME --managed without election,
# the innocent workloads, and every pod of them covered (the cluster's 10 s recorded).
managed_covering() {
  apply_crds
  install_webhook 19443
  start_firebreak "$1" 18080 --webhook 19443 --managed --leader-elect=false
  deploy_innocent 6
  e2ectl expect-covered --seconds 10 --count 12 --timeout 30s
}
# summary KEY VALUE: a figure of the scenario, collected by the runner (results/NAME/summary.txt).
summary() { printf '%s=%s\n' "$1" "$2" >>"${LOG_DIR}/summary.txt"; echo "summary: $1=$2"; }
}

run_one() {
  local name="$1" file="${E2E_DIR}/scenarios/$1.sh" rc=0 t0 t_up dur
  SCENARIO_MODE=baseline SCENARIO_NODES=6 SCENARIO_ZONES="" SCENARIO_DESCRIPTION="" FB_MANAGED=0
  SCENARIO_REAL_NODE=0 SCENARIO_POISON_DELAY="" SCENARIO_PROC_TREES=0
  unset -f scenario_run
  # shellcheck source=/dev/null
  source "${file}"
  declare -F scenario_run >/dev/null || die "${file} defines no scenario_run"
  log "=== scenario ${name} (${SCENARIO_MODE} mode, ${SCENARIO_NODES} nodes): ${SCENARIO_DESCRIPTION}"
  t0=${SECONDS}
  "${E2E_DIR}/cluster.sh" down >/dev/null 2>&1 || true
  # SCENARIO_REAL_NODE=1: also the real node (e2e/realnode.sh), for firebreak in-cluster: root
  # only; the image (scripts/build-image.sh) is built first, once per run, before any cluster is
  # up (a compile on 2 cores beside the real node's 2 s lease renewals would be asking for trouble)
  if [[ "${SCENARIO_REAL_NODE}" == 1 && "$(id -u)" -ne 0 ]]; then
    log "SKIP: the real node needs root"
    rc=${SKIP_RC}
  elif [[ "${SCENARIO_REAL_NODE}" == 1 && "${FB_IMAGE_BUILT:-0}" != 1 ]]; then
    mkdir -p "${LOG_DIR}"
    if "${REPO_DIR}/scripts/build-image.sh" --no-tests --out "${REPO_DIR}/build/image/firebreak.docker.tar" \
      >"${RUN_DIR}/build-image.log" 2>&1; then
      export FB_IMAGE_BUILT=1
    else
      tail -20 "${RUN_DIR}/build-image.log" >&2
      log "the image did not build"
      rc=1
    fi
  fi
  # SCENARIO_ZONES: the zones fakelet assigns round robin (cluster.sh's default when empty);
  # SCENARIO_POISON_DELAY: how long a poison pod runs before its node stops (cluster.sh's 10s).
  # SCENARIO_PROC_TREES=1: fakelet writes each node's /proc for firebreak-node (start_agents).
  local trees=""
  [[ "${SCENARIO_PROC_TREES}" != 1 ]] || trees="${PROC_TREES}"
  if ((rc == 0)) && ! E2E_ZONES="${SCENARIO_ZONES:-${E2E_ZONES:-}}" E2E_REAL_NODE="${SCENARIO_REAL_NODE}" \
    E2E_POISON_DELAY="${SCENARIO_POISON_DELAY:-${E2E_POISON_DELAY:-}}" E2E_PROC_TREES="${trees}" \
    "${E2E_DIR}/cluster.sh" up --mode "${SCENARIO_MODE}" --nodes "${SCENARIO_NODES}"; then
    rc=1
    log "cluster failed to start"
  fi
  t_up=$((SECONDS - t0))
  if ((rc == 0)); then
    start_proc watcher "${BIN_DIR}/e2ectl" watch --kubeconfig "${KUBECONFIG_PATH}" --out "${RUN_DIR}/timeline.log"
    timeline_mark "start ${name}"
    set +e
    (
      set -euo pipefail
      export KUBECONFIG="${KUBECONFIG_PATH}"
      scenario_run
    ) 2>&1 | tee "${LOG_DIR}/scenario.log"
    rc=${PIPESTATUS[0]}
    set -e
    timeline_mark "end ${name} (rc=${rc})"
    if [[ "${SCENARIO_REAL_NODE}" == 1 ]]; then
      "${E2E_DIR}/realnode.sh" logs "" >"${LOG_DIR}/realnode-pods.log" 2>&1 || true
    fi
    e2ectl events >"${LOG_DIR}/events.txt" 2>&1 || true
    sleep 0.5
    stop_proc watcher
  fi
  dur=$((SECONDS - t0))
  local result=PASS
  ((rc == 0)) || result=FAIL
  ((rc == SKIP_RC)) && result=SKIP
  echo
  echo "---- timeline of ${name} (t=0: scenario start; node Ready transitions, taints, pod moves) ----"
  "${BIN_DIR}/e2ectl" timeline "${RUN_DIR}/timeline.log" "${RUN_DIR}/fakelet/events.log" |
    grep -Ev 'watch +(pod .* on .* phase=|pod .* Running on |node .* Ready=True$|node .* taint - node.kubernetes.io/not-ready:NoSchedule|watcher synced)' || true
  if ((show_events)) && [[ -f "${LOG_DIR}/events.txt" ]]; then
    echo "---- Kubernetes Events of ${name} (node lifecycle, taint eviction, scheduling) ----"
    grep -Ev ' (Scheduled|SuccessfulCreate|ScalingReplicaSet|RegisteredNode|Starting|NodeHasSufficient|NodeHasNoDiskPressure|NodeReady) ' \
      "${LOG_DIR}/events.txt" || true
  fi
  if [[ -s "${LOG_DIR}/summary.txt" ]]; then
    echo "---- figures of ${name}: $(paste -sd' ' "${LOG_DIR}/summary.txt")"
  fi
  echo "---- ${result}: ${name} (cluster up ${t_up} s, total ${dur} s)"
  echo
  local dest="${RUN_DIR}/results/${name}"
  rm -rf "${dest}"
  mkdir -p "${dest}"
  cp -r "${LOG_DIR}" "${dest}/" 2>/dev/null || true
  cp "${RUN_DIR}/timeline.log" "${RUN_DIR}/fakelet/events.log" "${dest}/" 2>/dev/null || true
  if ((keep == 0)) || [[ "${name}" != "${scenarios[-1]}" ]]; then
    E2E_REAL_NODE="${SCENARIO_REAL_NODE}" "${E2E_DIR}/cluster.sh" down >/dev/null 2>&1 || true
    # the real node's clean-up leaves the machine as it found it
    if [[ "${SCENARIO_REAL_NODE}" == 1 && "${result}" != SKIP ]] && ! "${E2E_DIR}/realnode.sh" check-clean; then
      [[ "${result}" == PASS ]] && result=FAIL
      echo "---- FAIL: ${name}: the real node's clean-up left the above on the machine"
    fi
  fi
  RESULTS+=("$(printf '%-5s %-24s %4ss' "${result}" "${name}" "${dur}")")
  case "${result}" in
    FAIL) FAILED=1 ;;
    SKIP) ((strict == 0)) || FAILED=1 ;;
  esac
}

RESULTS=()
FAILED=0
trap '"${E2E_DIR}/cluster.sh" down >/dev/null 2>&1 || true; exit 130' INT TERM
t_all=${SECONDS}
for s in "${scenarios[@]}"; do
  run_one "${s}"
done
echo "==== e2e results ($((SECONDS - t_all)) s) ===="
printf '%s\n' "${RESULTS[@]}"
if [[ "${E2E_COMPARE:-1}" == 1 && " ${scenarios[*]} " == *" cascade-baseline "* && " ${scenarios[*]} " == *" cascade-firebreak "* ]]; then
  echo
  "${E2E_DIR}/compare.sh"
fi
# last, so that the tail of a CI log says why: each failed scenario's last words
for r in "${RESULTS[@]}"; do
  [[ "${r}" == FAIL* ]] || continue
  read -r _ name _ <<<"${r}"
  echo
  echo "==== why ${name} failed (the end of its output; all of it: ${RUN_DIR}/results/${name}/) ===="
  grep -v '^ *+[0-9.]*s ' "${RUN_DIR}/results/${name}/$(basename "${LOG_DIR}")/scenario.log" 2>/dev/null | tail -n 25 || true
done
exit "${FAILED}"
