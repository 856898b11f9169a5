# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Two poison replicas start on two nodes at once: both nodes die at about the same time.
# In a 6-node cluster two nodes failing together are a burst that lands on the poison's two
# nodes 1 time in 15 (C(2,2)/C(6,2)): not evidence enough (docs/DESIGN.md "Bursts"). Its two
# replacements land on two more nodes and kill them: a second failure 20 s of exposure after
# the first, far too soon for chance, and the surprise verdict quarantines it there, before
# those nodes' pods are due: both poison pods stay pinned and no fifth node is lost. Which of
# the two replacements' nodes the node lifecycle controller marks first is chance: when it is
# the one whose zone is then all down (an outage's failure, naming no one), its pod falls due
# first, and the verdict must come before that too (CI saw a fifth node lost so once; unit test
# a_pod_on_a_node_whose_failure_names_no_one_waits_for_the_verdict has both orders). (The ratio
# rule, poison.verdict: Ratio, stops it at 2 and would as readily take a rack failure after a
# rollout for a poison.)
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="poison Deployment with 2 replicas dying together: quarantined at the replacements' nodes (4), no fifth"

scenario_run() {
  need_firebreak
  step "apply CRDs, start firebreak"
  apply_crds
  start_firebreak firebreak 18080 --leader-elect=false
  step "deploy innocent workloads"
  e2ectl deploy web --replicas 6
  e2ectl rollout web --timeout 60s
  step "deploy poison (2 replicas)"
  e2ectl deploy poison --replicas 2 --poison
  e2ectl expect-contained --app poison --max-nodes 4 --settle 40s --timeout 180s
  local lost
  lost="$(e2ectl failed-nodes)"
  [[ "$(tr ',' '\n' <<<"${lost}" | grep -c .)" == 4 ]] || { echo "expected exactly 4 failed nodes, got ${lost}" >&2; return 1; }
  step "check"
  e2ectl expect-pinned --app poison
  # the first two pods, evicted before the verdict, stay Terminating on their dead nodes
  [[ "$(e2ectl get pods -o 'jsonpath={range .items[?(@.metadata.labels.app=="poison")]}{.metadata.deletionTimestamp}{"/"}{.metadata.name}{"\n"}{end}' | grep -c '^/')" == 2 ]] ||
    { echo "the poison Deployment has more than its 2 live pods: a replacement was created" >&2; return 1; }
  # the verdict's nodes (a failure together with the rest of its zone, as with 2-node zones
  # here, is an outage's and lists no suspect: not the poison's, not tainted)
  local verdict_nodes
  verdict_nodes="$(e2ectl get quarantines -o 'jsonpath={.items[0].status.nodes[*].name}' | tr ' ' ',')"
  echo "the verdict's nodes: ${verdict_nodes}"
  [[ -n "${verdict_nodes}" ]] || { echo "the Quarantine lists no node" >&2; return 1; }
  e2ectl expect-taint --node "${verdict_nodes}" --key firebreak.dev/quarantine
  e2ectl expect-event --reason Pinned --kind Pod --name poison --count 2 --timeout 30s
  e2ectl expect-moved --node "${lost}" --except-app poison --timeout 30s
  summary nodes_lost "$(tr ',' '\n' <<<"${lost}" | grep -c .) (${lost})"
}
