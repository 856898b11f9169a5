# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak as its users run it (issue 14): the image built from deploy/Dockerfile, `helm install`
# on the real node (2 replicas, in-cluster config, the chart's RBAC, webhook through its Service),
# taint-based eviction off. Then, with firebreak in-cluster: the poison cascade, contained at two
# nodes while `helm upgrade` changes a value mid-cascade (a rolling restart of both replicas); the
# quarantine gate (the API server calls the webhook through the Service); leader failover by
# deleting the leader pod; `helm uninstall`, leaving exactly what the docs say.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_REAL_NODE=1
SCENARIO_DESCRIPTION="in-cluster (helm, real node): cascade with helm upgrade mid-way, gate, leader pod deleted, uninstall"

scenario_run() {
  # shellcheck source=../incluster.sh
  source "${E2E_DIR}/incluster.sh"
  ic_image
  ic_install
  e2ectl expect-webhook "${IC_RELEASE}" --timeout 60s
  local leader
  leader="$(ic_leader)"
  summary leader "${leader}"

  deploy_innocent 4
  step "deploy poison; at the first failed node, helm upgrade --set config.log.level=debug"
  local t0=${SECONDS}
  e2ectl deploy poison --replicas 1 --poison
  until [[ -n "$(e2ectl failed-nodes)" ]]; do
    ((SECONDS - t0 < 120)) || { echo "no node failed within 120 s" >&2; return 1; }
    sleep 1
  done
  local before
  before="$(ic_pods | awk '{ print $1 }' | sort | paste -sd' ')"
  timeline_mark "helm upgrade starts"
  ic_helm upgrade "${IC_RELEASE}" "${REPO_DIR}/charts/firebreak" -n "${IC_NAMESPACE}" --reuse-values \
    --set config.log.level=debug --wait --timeout 3m >"${LOG_DIR}/helm-upgrade.log" 2>&1 ||
    { cat "${LOG_DIR}/helm-upgrade.log" >&2; ic_diagnose; return 1; }
  timeline_mark "helm upgrade returned"
  summary upgrade "rolled out $((SECONDS - t0)) s after the poison was deployed"
  e2ectl expect-contained --app poison --max-nodes 2 --settle 40s --timeout 240s
  local lost
  lost="$(e2ectl failed-nodes)"
  e2ectl expect-event --reason Quarantined --kind Deployment --name poison
  e2ectl expect-moved --node "${lost}" --except-app poison --timeout 60s
  ic_check_pods 2 quiet
  # both replicas replaced by the upgrade, and each new one logs at debug (grep -c, not -q:
  # under pipefail an early exit of grep fails the pipeline)
  local pod after
  after="$(ic_pods | awk '{ print $1 }' | sort | paste -sd' ')"
  for pod in ${after}; do
    [[ " ${before} " != *" ${pod} "* ]] || { echo "${pod} was not replaced by the upgrade (before: ${before})" >&2; return 1; }
    (($("${E2E_DIR}/realnode.sh" logs "${pod}" | grep -c 'level=debug') > 0)) ||
      { echo "${pod} (upgraded) does not log at debug" >&2; return 1; }
  done
  summary upgraded "${before} -> ${after}, each logging at debug"
  summary nodes_lost "$(tr ',' '\n' <<<"${lost}" | grep -c .)"

  step "the quarantine gate, through the chart's Service: scale the poison to 3"
  e2ectl deploy poison --replicas 3 --poison
  e2ectl expect-gated --app poison --count 2 --timeout 30s
  summary gate "2 new pods of the quarantined Deployment gated by the in-cluster webhook"

  step "leader failover: delete the leader pod"
  leader="$(ic_leader)"
  local t1=${SECONDS} next
  timeline_mark "delete leader pod ${leader}"
  e2ectl delete pod "${leader}" -n "${IC_NAMESPACE}" >/dev/null
  next="$(ic_wait_leader "${leader}" 60)"
  summary failover "${next} leads $((SECONDS - t1)) s after ${leader} was deleted"
  e2ectl deploy poison --replicas 4 --poison
  e2ectl expect-gated --app poison --count 3 --timeout 60s
  e2ectl expect-contained --app poison --max-nodes 2 --settle 20s --timeout 10s
  local i
  for ((i = 0; i < 60; i++)); do ic_check_pods 2 quiet 2>/dev/null && break; sleep 2; done
  ic_check_pods 2 quiet

  ic_uninstall
  summary result PASS
}
