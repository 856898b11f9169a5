# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Bad input does not change a decision, and an API server crash loses no transition.
#  1. An EvictionBudget of 1 node per hour selects every node.
#  2. An edit the schema refuses (maxUnhealthy "150%") is rejected by the API server, naming
#     the field; the stored budget is unchanged.
#  3. An edit the schema accepts but that Kubernetes would refuse to use (a nodeSelector label
#     value "zone a", as labels.NewRequirement validates it) with a window of 10 nodes: firebreak
#     reports it (status condition InvalidSpec=True, an InvalidSpec Event naming the field) and
#     keeps the last good spec, 1 node per hour.
#  4. kube-apiserver is killed (SIGKILL) and restarted while node-1 stops heartbeating: every
#     watch breaks; firebreak reconnects (resuming or relisting) and evicts node-1's pods once
#     its Ready transition comes, within toleration + 2 s of it.
#  5. node-2 (another zone) fails: the last good spec's window is used up, so its pods stay,
#     with an Event naming the budget. Had firebreak taken the invalid edit (10 nodes, selecting
#     no node), node-2 would have been evicted.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="invalid budget edits change nothing; an API server crash mid-watch misses no transition"

FB_PORT=18080

budget() { # MAX_NODES [SELECTOR_VALUE] [MAX_UNHEALTHY]
  local sel="" mu=""
  [[ -n "${2:-}" ]] && sel="  nodeSelector: {matchLabels: {topology.kubernetes.io/zone: \"$2\"}}"
  [[ -n "${3:-}" ]] && mu="  maxUnhealthy: \"$3\""
  e2ectl apply - <<YAML
apiVersion: firebreak.dev/v1alpha1
kind: EvictionBudget
metadata:
  name: one-per-hour
spec:
${sel}
${mu}
  windows:
  - {maxNodes: $1, window: 1h}
  poison: {enabled: false}
YAML
}

invalid_status() {
  e2ectl get evictionbudget one-per-hour -o 'jsonpath={.status.conditions[?(@.type=="InvalidSpec")].status}'
}

scenario_run() {
  need_firebreak
  command -v curl >/dev/null || skip "curl is needed to read /metrics"
  step "apply CRDs and the budget (1 node per hour), start firebreak"
  apply_crds
  budget 1
  start_firebreak firebreak "${FB_PORT}" --leader-elect=false
  e2ectl wait-for evictionbudget one-per-hour \
    --jsonpath '{.status.conditions[?(@.type=="InvalidSpec")].status}' --equals False --timeout 20s
  deploy_innocent

  step "an edit the schema refuses: maxUnhealthy 150%"
  local gen out
  gen="$(e2ectl get evictionbudget one-per-hour -o 'jsonpath={.metadata.generation}')"
  if out="$(budget 10 "" 150% 2>&1)"; then
    echo "the API server accepted maxUnhealthy 150%: ${out}" >&2
    return 1
  fi
  echo "rejected: $(grep -m1 -o 'spec.maxUnhealthy.*' <<<"${out}" | cut -c1-160)"
  grep -q 'spec.maxUnhealthy' <<<"${out}" || { echo "the rejection does not name the field: ${out}" >&2; return 1; }
  [[ "$(e2ectl get evictionbudget one-per-hour -o 'jsonpath={.metadata.generation}')" == "${gen}" ]] ||
    { echo "the rejected edit changed the budget" >&2; return 1; }

  step "an edit the schema accepts but Kubernetes would refuse: label value \"zone a\", 10 nodes per hour"
  budget 10 "zone a"
  e2ectl expect-event --reason InvalidSpec --kind EvictionBudget --name one-per-hour \
    --contains 'not a valid label value' --timeout 20s
  e2ectl wait-for evictionbudget one-per-hour \
    --jsonpath '{.status.conditions[?(@.type=="InvalidSpec")].status}' --equals True --timeout 20s
  e2ectl wait-for evictionbudget one-per-hour --jsonpath '{.status.observedGeneration}' \
    --equals "$((gen + 1))" --timeout 20s
  e2ectl get evictionbudget one-per-hour \
    -o 'jsonpath={.status.conditions[?(@.type=="InvalidSpec")].message}{"\n"}'
  summary invalid_spec "$(e2ectl get evictionbudget one-per-hour -o 'jsonpath={.status.conditions[?(@.type=="InvalidSpec")].message}' | cut -c1-120)"

  step "kill kube-apiserver; node-1 stops heartbeating while it is down; start it again"
  local restarts_before restarts_after t_kill t_up
  restarts_before="$(curl -fsS "http://127.0.0.1:${FB_PORT}/metrics" |
    sed -n 's/^firebreak_watch_restarts_total{resource="nodes"} \([0-9]*\)$/\1/p')"
  t_kill=${SECONDS}
  restart_apiserver --kill &
  local restarter=$!
  sleep 0.5
  fail_node node-1
  wait "${restarter}"
  t_up=$((SECONDS - t_kill))
  summary apiserver_down "${t_up} s from SIGKILL to ready"
  out="$(e2ectl expect-evicted --node node-1 --within "$((${E2E_TOLERATION_SECONDS:-10} + 2))s" --timeout 90s)" ||
    { echo "${out}"; return 1; }
  echo "${out}"
  summary eviction_after_restart "$(sed -n 's/.*: max \([0-9.]*s\) over.*/\1/p' <<<"${out}") after node-1's Ready transition"
  restarts_after="$(curl -fsS "http://127.0.0.1:${FB_PORT}/metrics" |
    sed -n 's/^firebreak_watch_restarts_total{resource="nodes"} \([0-9]*\)$/\1/p')"
  echo "firebreak_watch_restarts_total{resource=\"nodes\"}: ${restarts_before} -> ${restarts_after}"
  ((restarts_after > restarts_before)) || { echo "firebreak did not notice the broken watch" >&2; return 1; }
  grep -E 'list/watch failed|relisted' "${LOG_DIR}/firebreak.log" | head -n 8 | cut -c1-240
  summary watch_restarts "nodes ${restarts_before} -> ${restarts_after}; relisted: $(grep -c 'msg="\{0,1\}relisted' "${LOG_DIR}/firebreak.log" || true) times"

  step "fail node-2: the last good spec (1 node per hour) holds it"
  fail_node node-2
  e2ectl expect-event --reason EvictionDeferred --kind Node --name node-2 --contains one-per-hour --timeout 40s
  e2ectl expect-stay --node node-2 --for 15s
  [[ "$(invalid_status)" == True ]] || { echo "InvalidSpec no longer True" >&2; return 1; }
  e2ectl wait-for evictionbudget one-per-hour --jsonpath '{.status.windowUsage[0].used}' --equals 1 --timeout 10s
  summary last_good_spec "node-1 evicted, node-2 held by one-per-hour (1 of 1 per 1h used)"
}
