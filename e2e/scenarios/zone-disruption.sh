# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Zone disruption as the node lifecycle controller judges it (ComputeZoneState): 8 nodes in
# two zones of 4 (zone-a: node-1,3,5,7; zone-b: node-2,4,6,8).
#  1. Three of zone-a's four nodes fail (75 % >= unhealthyZoneThreshold 55 %, more than 2):
#     zone-a is PartialDisruption, and in a cluster of at most largeClusterThreshold (50)
#     nodes its rate is 0: their pods stay, with Events naming the zone state. At the same
#     time node-2 fails in zone-b (1 of 4: Normal): its pods are evicted as usual.
#  2. Every node fails: every zone is FullDisruption, which upstream reads as a control-plane
#     or network problem: nothing is evicted anywhere, and Events say why.
# In phase 1 an EvictionBudget turns the poison guard off (four of eight nodes failing right
# after a rollout can meet the poison verdict; phase 1 is about zone states only). Phase 2
# runs with it on: a cluster-wide outage right after a rollout must quarantine nothing.
SCENARIO_MODE=firebreak
SCENARIO_NODES=8
SCENARIO_ZONES=zone-a,zone-b
SCENARIO_DESCRIPTION="a zone above 55 % NotReady stops (PartialDisruption); all zones down: nothing evicted"

FB_PORT=18080

# zone_state ZONE STATE: the firebreak_zone_state gauge (1 when ZONE is in STATE; fakelet
# labels every node with region e2e, and firebreak names zones region/zone).
zone_state() {
  curl -fsS "http://127.0.0.1:${FB_PORT}/metrics" |
    sed -n "s|^firebreak_zone_state{zone=\"e2e/$1\",state=\"$2\"} \\([0-9.]*\\)$|\\1|p"
}

# wait_zone_state ZONE STATE TIMEOUT_S
wait_zone_state() {
  local i
  for ((i = 0; i < $3 * 2; i++)); do
    [[ "$(zone_state "$1" "$2")" == 1 ]] && { echo "zone $1: $2"; return 0; }
    sleep 0.5
  done
  echo "zone $1 not $2 after $3 s; metrics:" >&2
  curl -fsS "http://127.0.0.1:${FB_PORT}/metrics" | grep '^firebreak_zone' >&2 || true
  return 1
}

# no_terminating_pods TIMEOUT_S: wait until no pod is terminating (revived fakelets finish them).
no_terminating_pods() {
  local i n
  for ((i = 0; i < $1 * 2; i++)); do
    n="$(e2ectl get pods -o 'jsonpath={range .items[*]}{.metadata.deletionTimestamp}{"\n"}{end}' | grep -c . || true)"
    ((n == 0)) && return 0
    sleep 0.5
  done
  echo "${n} pods still terminating after $1 s" >&2
  return 1
}

scenario_run() {
  need_firebreak
  command -v curl >/dev/null || skip "curl is needed to read /metrics"
  step "apply CRDs and a budget without the poison guard, start firebreak"
  apply_crds
  e2ectl apply - <<'YAML'
apiVersion: firebreak.dev/v1alpha1
kind: EvictionBudget
metadata:
  name: zones-only
spec:
  poison: {enabled: false}
YAML
  start_firebreak firebreak "${FB_PORT}" --leader-elect=false
  step "deploy innocent workloads (24 pods on 8 nodes)"
  e2ectl deploy web --replicas 16
  e2ectl deploy api --replicas 8
  e2ectl rollout web api --timeout 90s
  wait_zone_state zone-a Normal 10

  step "phase 1: fail node-1, node-3, node-5 (zone-a, 3 of 4) and node-2 (zone-b, 1 of 4)"
  fail_node node-1
  fail_node node-3
  fail_node node-5
  fail_node node-2
  local out
  out="$(e2ectl expect-evicted --node node-2 --within "$((${E2E_TOLERATION_SECONDS:-10} + 2))s" --timeout 60s)" ||
    { echo "${out}"; return 1; }
  echo "${out}"
  summary normal_zone_eviction "$(sed -n 's/.*: max \([0-9.]*s\) over.*/\1/p' <<<"${out}") after the Ready transition"
  wait_zone_state zone-a PartialDisruption 10
  wait_zone_state zone-b Normal 1
  e2ectl expect-event --reason EvictionDeferred --kind Node --contains PartialDisruption --timeout 20s
  e2ectl expect-event --reason EvictionStarted --kind Node --name node-1 --absent
  step "zone-a's failed nodes keep their pods"
  e2ectl expect-stay --node node-1,node-3,node-5 --for 25s
  summary partial_disruption "zone-a 3 of 4 NotReady: 0 of 3 nodes evicted over 25 s past due; node-2 (zone-b) evicted"

  step "revive every node"
  local n
  for n in node-1 node-2 node-3 node-5; do revive_node "${n}"; done
  e2ectl ready --nodes 8 --timeout 60s
  no_terminating_pods 60
  wait_zone_state zone-a Normal 20

  step "phase 2: every node fails, with the poison guard back on (the budget deleted)"
  # Every pod arrived minutes ago (arrivalWindow 30 m): each failure has suspects, and the
  # nodes are marked Unknown one by one. An outage is not evidence: nothing may be quarantined.
  e2ectl delete evictionbudget zones-only
  wait_for_log firebreak 'msg="?EvictionBudget deleted' 20 || { echo "firebreak did not see the budget go" >&2; return 1; }
  local nodes=() with_pods=""
  for n in 1 2 3 4 5 6 7 8; do
    nodes+=("node-${n}")
    if [[ -n "$(e2ectl get pods -o "jsonpath={range .items[?(@.spec.nodeName==\"node-${n}\")]}{.metadata.name}{end}")" ]]; then
      with_pods+="${with_pods:+,}node-${n}"
    fi
  done
  # Reviving phase 1's nodes one by one took zone-a below 3 NotReady (Normal again) while
  # some were still NotReady and long due: upstream, and firebreak, may then evict those at
  # the normal rate. Only what starts from here on counts.
  local started_before
  started_before="$(e2ectl events --source firebreak | grep -E ' EvictionStarted +Node/' || true)"
  for n in "${nodes[@]}"; do fail_node "${n}"; done
  # Every node NotReady within the grace period; the first pods are due 10 s later.
  e2ectl expect-stay --node "${with_pods}" --for 40s &
  local stay=$!
  wait_zone_state zone-a FullDisruption 30
  wait_zone_state zone-b FullDisruption 10
  e2ectl expect-event --reason EvictionHalted --kind Node --contains "every zone" --timeout 30s
  wait "${stay}"
  local started_after
  started_after="$(e2ectl events --source firebreak | grep -E ' EvictionStarted +Node/' || true)"
  if [[ "${started_after}" != "${started_before}" ]]; then
    printf 'EvictionStarted Events changed during the full disruption:\n%s\n' "${started_after}" >&2
    return 1
  fi
  e2ectl expect-quarantine --absent
  summary full_disruption "8 of 8 NotReady: no pod evicted over 40 s (nodes with pods: ${with_pods})"
  step "revive every node"
  for n in "${nodes[@]}"; do revive_node "${n}"; done
  e2ectl ready --nodes 8 --timeout 60s
  wait_zone_state zone-a Normal 20
}
