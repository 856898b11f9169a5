# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# A slow poison, time-compressed (issue 15): its pod takes 40 s to kill a node, which at this
# cluster's compression (1/90: the ratio rule's 30m arrival window is 20 s, its 1h window 40 s)
# is a poison that kills in an hour. The surprise verdict (its 8h horizon and 24h window
# compressed the same way: 5m20s, 16m) quarantines it after 2 nodes: two failures, each 48 s
# after the poison's arrival, are about a 1-in-180,000 coincidence in a quiet cluster (the
# prior, 0.01 failures per node per day, uncompressed: this cluster has no history). The
# ratio rule misses it and loses a third node (slow-poison-ratio).
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_POISON_DELAY=40s
SCENARIO_DESCRIPTION="slow poison (kills after 40 s = 1 h compressed): the surprise verdict quarantines it after 2 nodes"

# slow_poison_start VERDICT WINDOW ARRIVAL_WINDOW: firebreak with that verdict, every node under
# a budget with those poison windows; innocent workloads; the poison deployed.
slow_poison_start() {
  need_firebreak
  step "apply CRDs, a budget with the $1 rule's windows compressed ($2, $3), start firebreak"
  apply_crds
  e2ectl apply - <<YAML
apiVersion: firebreak.dev/v1alpha1
kind: EvictionBudget
metadata:
  name: compressed
spec:
  poison: {window: $2, arrivalWindow: $3}
YAML
  local cfg="${RUN_DIR}/firebreak-$1.yaml"
  printf 'poison:\n  verdict: %s\n' "$1" >"${cfg}"
  start_firebreak firebreak 18080 --leader-elect=false --config "${cfg}"
  grep -m1 'poison verdict' "${LOG_DIR}/firebreak.log" || true
  deploy_innocent 4
  step "deploy the slow poison"
  e2ectl deploy poison --replicas 1 --poison
}

scenario_run() {
  slow_poison_start Surprise 16m 5m20s
  local lost why
  # a third loss would come ~60 s after the second (poison 40 s + grace 8 s + toleration 10 s)
  e2ectl expect-contained --app poison --max-nodes 2 --settle 80s --timeout 240s
  lost="$(e2ectl failed-nodes)"
  e2ectl expect-event --reason Quarantined --kind Deployment --name poison
  e2ectl expect-pinned --app poison
  why="$(e2ectl get quarantines -A -o 'jsonpath={.items[0].status.message}')"
  echo "verdict: ${why}"
  grep -q 'happens by chance about once in' <<<"${why}" || {
    echo "the Quarantine does not say how unlikely the coincidence was: ${why}" >&2
    return 1
  }
  summary result PASS
  summary nodes_lost "$(tr ',' '\n' <<<"${lost}" | grep -c .)"
  summary verdict "${why}"
}
