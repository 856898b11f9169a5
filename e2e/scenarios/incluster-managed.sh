# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak in-cluster in managed mode (issues 13, 14): `helm install --set managed.enabled=true`
# on the real node, Kubernetes' taint-eviction controller on. The webhook, reached through the
# chart's Service, covers every new pod; the poison cascade is contained at two nodes while the
# leader pod is deleted at the first failed node, and the taint-eviction controller deletes none
# of the covered pods. `helm uninstall` runs the chart's pre-delete hook (a Job of the same image)
# that scales firebreak to zero and gives every covered pod its seconds back; nothing of the
# release stays but what the docs say.
SCENARIO_MODE=managed
SCENARIO_NODES=6
SCENARIO_REAL_NODE=1
SCENARIO_DESCRIPTION="in-cluster managed mode (helm, real node): covered pods, cascade with the leader pod deleted, uninstall restores"

scenario_run() {
  # shellcheck source=../incluster.sh
  source "${E2E_DIR}/incluster.sh"
  ic_image
  ic_install --set managed.enabled=true
  e2ectl expect-webhook "${IC_RELEASE}" --timeout 60s
  deploy_innocent 4
  e2ectl expect-covered --seconds 10 --count 10 --timeout 60s

  step "deploy poison; at the first failed node, delete the leader pod"
  local t0=${SECONDS} leader next
  e2ectl deploy poison --replicas 1 --poison
  until [[ -n "$(e2ectl failed-nodes)" ]]; do
    ((SECONDS - t0 < 120)) || { echo "no node failed within 120 s" >&2; return 1; }
    sleep 1
  done
  leader="$(ic_leader)"
  timeline_mark "delete leader pod ${leader}"
  local t1=${SECONDS}
  e2ectl delete pod "${leader}" -n "${IC_NAMESPACE}" >/dev/null
  next="$(ic_wait_leader "${leader}" 60)"
  summary failover "${next} leads $((SECONDS - t1)) s after ${leader} was deleted (first node down $((t1 - t0)) s after the poison)"
  e2ectl expect-contained --app poison --max-nodes 2 --settle 40s --timeout 240s
  local lost
  lost="$(e2ectl failed-nodes)"
  e2ectl expect-moved --node "${lost}" --except-app poison --timeout 60s
  summary nodes_lost "$(tr ',' '\n' <<<"${lost}" | grep -c .)"
  expect_no_taint_evictions
  # every live pod of the default namespace covered, the replacements included
  e2ectl expect-covered --seconds 10 --count 0 --timeout 30s

  ic_uninstall
  step "every covered pod has its seconds back; a node failing now is Kubernetes' again"
  e2ectl expect-restored --seconds 10 --timeout 30s
  local restored
  restored="$(e2ectl coverage 2>/dev/null | tail -1 || true)"
  summary restored "${restored:-every pod back to 10 s}"
  local victim
  victim="$(e2ectl get pods -o 'jsonpath={range .items[?(@.metadata.labels.app=="web")]}{.spec.nodeName}{"\n"}{end}' |
    awk -v lost=",${lost}," 'NF && index(lost, "," $1 ",") == 0 { print; exit }')"
  [[ -n "${victim}" ]] || { echo "no live node runs a web pod" >&2; return 1; }
  fail_node "${victim}"
  e2ectl expect-evicted --node "${victim}" --within 12s --timeout 60s
  summary after_uninstall "${victim} failed: $(terminated_on "${victim}")"
  [[ "$(terminated_on "${victim}")" =~ ^\ *[0-9]+\ DeletionByTaintManager$ ]] ||
    { echo "${victim}'s pods were not deleted by the taint-eviction controller after the uninstall" >&2; return 1; }
  summary result PASS
}
