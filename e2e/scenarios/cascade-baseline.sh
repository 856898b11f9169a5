# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Baseline: stock Kubernetes eviction. One poison pod walks from node to node: each node
# it runs on stops heartbeating, the node lifecycle controller marks it Unknown and taints
# it, the taint-eviction controller deletes the pods, the poison pod is rescheduled and
# kills the next node. Passes when at least 4 nodes were lost that way.
SCENARIO_MODE=baseline
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="poison Deployment (1 replica) takes down >= 4 of 6 nodes"

scenario_run() {
  deploy_innocent 4
  step "deploy poison"
  local t0=${SECONDS} lost
  e2ectl deploy poison --replicas 1 --poison
  e2ectl expect-cascade --app poison --min-nodes 4 --timeout 240s
  lost="$(e2ectl failed-nodes)"
  summary result PASS
  summary nodes_lost "$(tr ',' '\n' <<<"${lost}" | grep -c .)+"
  summary lost_nodes "${lost}; still spreading when stopped"
  summary poison "rescheduled after every node loss"
  summary innocent "deleted by the taint manager, recreated"
  summary observed "$((SECONDS - t0)) s after the poison was deployed"
}
