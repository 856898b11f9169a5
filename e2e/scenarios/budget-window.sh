# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# An EvictionBudget over every node with windows [{maxNodes: 1, window: 1h}]. Three nodes fail
# at once, one per zone (each zone keeps a Ready node, so no zone is disrupted and the
# per-zone rate limiters admit all three): the budget lets one node's pods go; the other two
# keep theirs, with EvictionDeferred Events naming the budget; status.windowUsage used=1.
# The budget turns the poison guard off for its nodes: 3 of 6 nodes failing together, all
# hosting the two Deployments just rolled out, meets the poison verdict (3 failed >= 0.5 x 6
# arrival nodes) and would pin the pods instead; this scenario is about the window only.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="budget of 1 node per hour, 3 failed nodes: one node's pods move, the others wait"

scenario_run() {
  need_firebreak
  step "apply CRDs and the budget, start firebreak"
  apply_crds
  e2ectl apply - <<'YAML'
apiVersion: firebreak.dev/v1alpha1
kind: EvictionBudget
metadata:
  name: one-per-hour
spec:
  windows:
  - {maxNodes: 1, window: 1h}
  poison: {enabled: false}
YAML
  start_firebreak firebreak 18080 --leader-elect=false
  deploy_innocent
  step "fail node-1 (zone-a), node-2 (zone-b), node-3 (zone-c)"
  fail_node node-1
  fail_node node-2
  fail_node node-3
  e2ectl expect-event --reason EvictionStarted --kind Node --timeout 45s
  e2ectl expect-event --reason EvictionDeferred --kind Node --contains one-per-hour --count 2 --timeout 20s
  step "observe for 20 s"
  sleep 20
  local n moved=0 stayed=0 tot term
  for n in node-1 node-2 node-3; do
    tot="$(e2ectl get pods -o "jsonpath={range .items[?(@.spec.nodeName==\"${n}\")]}{.metadata.name}{\"\\n\"}{end}" | grep -c . || true)"
    term="$(e2ectl get pods -o "jsonpath={range .items[?(@.spec.nodeName==\"${n}\")]}{.metadata.deletionTimestamp}{\"\\n\"}{end}" | grep -c . || true)"
    echo "${n}: ${tot} pods, ${term} terminating"
    if ((tot > 0 && term == tot)); then
      moved=$((moved + 1))
    elif ((tot > 0 && term == 0)); then
      stayed=$((stayed + 1))
    else
      echo "${n}: unexpected state (${term}/${tot} pods terminating)" >&2
      return 1
    fi
  done
  ((moved == 1 && stayed == 2)) || { echo "want 1 node evicted and 2 kept, got ${moved} and ${stayed}" >&2; return 1; }
  e2ectl wait-for evictionbudget one-per-hour --jsonpath '{.status.windowUsage[0].used}' --equals 1 --timeout 20s
  e2ectl get evictionbudgets
  e2ectl get evictionbudget one-per-hour -o 'jsonpath={.status.windowUsage}'
  summary nodes_evicted "${moved} of 3 failed"
}
