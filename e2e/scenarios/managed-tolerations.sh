# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Managed mode keeps every pod's own toleration (issue 13): with Kubernetes' taint-eviction
# controller ON and firebreak --managed, node-2 runs pods that tolerate its failure differently,
# and fails. Each leaves when Kubernetes alone would have let it go, from the Ready transition:
#   own-short  tolerationSeconds 5   covered (records 5): evicted by firebreak after 5 s
#   default    none of its own       the plugin's 10 s, covered: evicted by firebreak after 10 s
#   own-long   tolerationSeconds 30  covered (records 30): evicted by firebreak after 30 s
#   forever    tolerates everything  not covered (nothing to cover): never evicted
#   a DaemonSet's pod                left to Kubernetes (tolerates forever): never evicted
#   a mirror pod                     left to Kubernetes (not covered): deleted by the
#                                    taint-eviction controller after the plugin's 10 s
# The mirror pod is the only one the taint-eviction controller deletes.
SCENARIO_MODE=managed
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="own tolerations (5/10/30 s, forever), DaemonSet and mirror pods each leave as under Kubernetes"

# left_after NAME: seconds from node-2's Ready transition to pod NAME* terminating (and why),
# from the timeline; "never" when it has not.
left_after() {
  local t0 t1 line
  t0="$(grep -m1 -E 'node node-2 Ready True -> (Unknown|False)' "${RUN_DIR}/timeline.log" | cut -f1)"
  line="$(grep -m1 -E "pod default/$1[^ ]* terminating on node-2" "${RUN_DIR}/timeline.log" || true)"
  [[ -n "${line}" ]] || { echo never; return; }
  t1="$(cut -f1 <<<"${line}")"
  printf '%.1f %s\n' "$(echo "$(date -u -d "${t1}" +%s.%N) - $(date -u -d "${t0}" +%s.%N)" | bc)" \
    "$(sed -n 's/.*(\(.*\))$/\1/p' <<<"${line}")"
}
# expect_left NAME MIN MAX: NAME left between MIN and MAX s after the transition.
expect_left() {
  local got
  read -r -a got <<<"$(left_after "$1")"
  summary "$1" "${got[*]}"
  if [[ "${got[0]}" == never ]] || (($(echo "${got[0]} < $2 || ${got[0]} > $3" | bc))); then
    echo "$1 left after ${got[*]}, want between $2 and $3 s" >&2
    return 1
  fi
}
expect_stayed() {
  local got
  got="$(left_after "$1")"
  summary "$1" "${got}"
  [[ "${got}" == never ]] || { echo "$1 left after ${got}, want never" >&2; return 1; }
}

pod_yaml() { # NAME [TOLERATIONS_JSON]
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, labels: {app: tol}}\nspec:\n' "$1"
  printf '  nodeSelector: {kubernetes.io/hostname: node-2}\n'
  printf '  containers: [{name: c, image: registry.k8s.io/pause:3.10}]\n'
  [[ -n "${2:-}" ]] && printf '  tolerations: %s\n' "$2"
  printf -- '---\n'
}

scenario_run() {
  need_firebreak
  command -v bc >/dev/null || skip "bc is needed"
  step "apply CRDs, start firebreak --managed with its webhook"
  apply_crds
  FB_MANAGED=1 start_firebreak firebreak 18080 --leader-elect=false
  local nr='node.kubernetes.io/not-ready' ur='node.kubernetes.io/unreachable'
  step "pods on node-2 with their own tolerations, a DaemonSet, a mirror pod"
  {
    pod_yaml own-short "[{key: ${nr}, operator: Exists, effect: NoExecute, tolerationSeconds: 5}, {key: ${ur}, operator: Exists, effect: NoExecute, tolerationSeconds: 5}]"
    pod_yaml default
    pod_yaml own-long "[{key: ${nr}, operator: Exists, effect: NoExecute, tolerationSeconds: 30}, {key: ${ur}, operator: Exists, effect: NoExecute, tolerationSeconds: 30}]"
    pod_yaml forever "[{operator: Exists}]"
    cat <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec: {containers: [{name: c, image: registry.k8s.io/pause:3.10}]}
YAML
  } | e2ectl apply - --field-manager e2e
  # A mirror pod, as a kubelet makes one for a static pod: bound at creation, the mirror
  # annotation, owned by its Node (the webhook's matchCondition leaves bound pods out).
  local uid
  uid="$(e2ectl get node node-2 -o 'jsonpath={.metadata.uid}')"
  e2ectl apply - --field-manager e2e <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: mirror-node-2
  annotations: {kubernetes.io/config.mirror: "e2e", kubernetes.io/config.source: file}
  ownerReferences: [{apiVersion: v1, kind: Node, name: node-2, uid: "${uid}", controller: true}]
spec:
  nodeName: node-2
  containers: [{name: c, image: registry.k8s.io/pause:3.10}]
YAML
  e2ectl wait-for pod own-short --jsonpath '{.status.phase}' --equals Running --timeout 30s
  e2ectl expect-covered --app tol --count 3 --timeout 20s || true # forever is not covered
  e2ectl get pods -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.metadata.annotations.firebreak\.dev/toleration-seconds}{"\n"}{end}' |
    tee "${LOG_DIR}/records.txt"
  grep -q '^own-short not-ready=5,unreachable=5$' "${LOG_DIR}/records.txt"
  grep -q '^default not-ready=10,unreachable=10$' "${LOG_DIR}/records.txt"
  grep -q '^own-long not-ready=30,unreachable=30$' "${LOG_DIR}/records.txt"
  grep -q '^forever $' "${LOG_DIR}/records.txt"
  grep -qE '^mirror-node-2 $' "${LOG_DIR}/records.txt"
  grep -qE '^ds-[a-z0-9]+ $' "${LOG_DIR}/records.txt"
  step "fail node-2"
  fail_node node-2
  sleep 45
  # from the transition the watcher saw, which comes up to ~1 s after its lastTransitionTime
  expect_left own-short 3.5 7.5
  expect_left default 8.5 12.5
  expect_left own-long 28.5 32.5
  expect_stayed forever
  expect_stayed ds-
  expect_left mirror-node-2 8.5 13
  left_after mirror-node-2 | grep -q DeletionByTaintManager ||
    { echo "the mirror pod was not deleted by the taint-eviction controller" >&2; return 1; }
  local n
  read -r -a n <<<"$(taint_evictions)"
  summary taint_manager_evictions "${n[0]} (timeline) ${n[1]} (Events): the mirror pod only"
  ((n[0] == 1 && n[1] == 1)) || { echo "want exactly the mirror pod deleted by the taint manager" >&2; return 1; }
}
