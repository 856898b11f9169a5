# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# The leader is SIGKILLed with evictions in flight, and the budget holds across the change.
# Two replicas (lease 6 s); an EvictionBudget of 2 nodes per hour with pdbBlockedTimeout 20 s;
# a PodDisruptionBudget (maxUnavailable 0) guards a one-replica app. The guarded app's node
# fails: the leader evicts the node's other pods, the Eviction API refuses the guarded pod
# (429) and the leader keeps retrying it. Right then it is killed. The standby takes over:
#  - it evicts no pod a second time, and deletes the guarded pod after the PDB timeout;
#  - it does not charge the budget a second time for that node (windowUsage used stays 1);
#  - two more nodes fail (one per remaining zone): one is evicted, the other is held with an
#    Event naming the budget, which never exceeds 2 nodes in its window.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="leader SIGKILLed while a PDB-blocked eviction is being retried: no double eviction, budget kept"

zone_of() { echo $(((${1#node-} - 1) % 3)); } # fakelet assigns zone-a,b,c round robin

# evicted_twice EXCEPT: pods with more than one Evicting/Deleting Event from firebreak (both
# replicas' Events, series counts summed); EXCEPT's first eviction was refused, so it is tried
# again. The logs alone would miss an eviction the killed leader sent but never logged.
evicted_twice() {
  e2ectl events --source firebreak |
    sed -n 's/.* \(Evicting\|Deleting\) *Pod\/\([^:]*\):.*, x\([0-9]*\)\]$/\2 \3/p' |
    awk -v except="$1" '$1 != except { n[$1] += $2 } END { for (p in n) if (n[p] > 1) print p " x" n[p] }'
}

pods_evicted_or_deleted() {
  grep -h -E 'msg="?pod (evicted|deleted)"?' "${LOG_DIR}/fb-a.log" "${LOG_DIR}/fb-b.log" |
    sed -n 's/.* pod=\([^ ]*\).*/\1/p' | sort
}

scenario_run() {
  need_firebreak
  step "apply CRDs, the budget and the PDB; start two firebreak replicas"
  apply_crds
  e2ectl apply - <<'YAML'
apiVersion: firebreak.dev/v1alpha1
kind: EvictionBudget
metadata:
  name: two-per-hour
spec:
  windows:
  - {maxNodes: 2, window: 1h}
  podEviction: {mode: Evict, pdbBlockedTimeout: 20s}
  poison: {enabled: false}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: guarded
  namespace: default
spec:
  maxUnavailable: 0
  selector:
    matchLabels: {app: guarded}
YAML
  local cfg="${RUN_DIR}/firebreak-le.yaml"
  printf 'leaderElection:\n  enabled: true\n  name: firebreak\n  leaseDuration: 6s\n  renewDeadline: 4s\n  retryPeriod: 1s\n' >"${cfg}"
  start_firebreak fb-a 18081 --config "${cfg}" --lease-namespace default
  wait_for_log fb-a 'msg="?became leader' 30 || { echo "fb-a did not become leader" >&2; return 1; }
  start_firebreak fb-b 18082 --config "${cfg}" --lease-namespace default
  wait_for_log fb-b 'msg="?leader observed' 30 || { echo "fb-b did not observe the leader" >&2; return 1; }
  step "deploy the guarded app and innocent workloads"
  e2ectl deploy guarded --replicas 1
  e2ectl deploy web --replicas 12
  e2ectl rollout guarded web --timeout 60s
  local node pod
  node="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="guarded")].spec.nodeName}')"
  pod="$(e2ectl get pods -o 'jsonpath={.items[?(@.metadata.labels.app=="guarded")].metadata.name}')"

  step "fail ${node} (runs ${pod}); kill the leader while it retries the blocked eviction"
  fail_node "${node}"
  wait_for_log fb-a "pod eviction refused.*${pod}" 60 ||
    { echo "the leader never retried the guarded pod" >&2; return 1; }
  local evicted_by_a on_node
  kill -KILL "$(pid_of fb-a)"
  evicted_by_a="$(grep -c -E 'msg="?pod evicted' "${LOG_DIR}/fb-a.log" || true)"
  on_node="$(e2ectl get pods -o "jsonpath={range .items[?(@.spec.nodeName==\"${node}\")]}{.metadata.name}{\"\\n\"}{end}" | grep -c . || true)"
  timeline_mark "SIGKILL fb-a (${evicted_by_a} evictions logged, ${pod} blocked)"
  echo "fb-a killed with ${evicted_by_a} evictions logged of the ${on_node} pods on ${node}, ${pod} blocked by its PDB"
  wait_for_log fb-b 'msg="?became leader' 30 || { echo "fb-b did not take over" >&2; return 1; }
  e2ectl expect-event --reason DeletedAfterPDBTimeout --kind Pod --name "${pod}" --timeout 60s
  grep -q -E "msg=\"?pod deleted\"? pod=[^ ]*${pod}" "${LOG_DIR}/fb-b.log" ||
    { echo "the guarded pod was not deleted by the new leader" >&2; return 1; }
  e2ectl expect-moved --node "${node}" --timeout 30s
  local dups
  dups="$(pods_evicted_or_deleted | uniq -d)$(evicted_twice "${pod}")"
  [[ -z "${dups}" ]] || { echo "pods evicted twice: ${dups}" >&2; return 1; }
  e2ectl events --source firebreak | grep -E ' (Evicting|Deleting|EvictionBlocked|DeletedAfterPDBTimeout) +Pod/' | cut -c1-160
  summary in_flight "fb-a killed retrying ${pod} (${evicted_by_a} of ${on_node} evictions logged); fb-b deleted it after the PDB timeout; no pod evicted twice"
  e2ectl wait-for evictionbudget two-per-hour --jsonpath '{.status.windowUsage[0].used}' --equals 1 --timeout 15s

  local n x="" y=""
  for n in node-1 node-2 node-3 node-4 node-5 node-6; do
    [[ "$(zone_of "${n}")" == "$(zone_of "${node}")" ]] && continue
    if [[ -z "${x}" ]]; then
      x="${n}"
    elif [[ -z "${y}" && "$(zone_of "${n}")" != "$(zone_of "${x}")" ]]; then
      y="${n}"
    fi
  done
  step "fail ${x} and ${y}: the budget has one node left"
  fail_node "${x}"
  fail_node "${y}"
  e2ectl expect-event --reason EvictionDeferred --kind Node --contains two-per-hour --timeout 45s
  sleep 15
  e2ectl wait-for evictionbudget two-per-hour --jsonpath '{.status.windowUsage[0].used}' --equals 2 --timeout 10s
  local term_x term_y
  term_x="$(e2ectl get pods -o "jsonpath={range .items[?(@.spec.nodeName==\"${x}\")]}{.metadata.deletionTimestamp}{\"\\n\"}{end}" | grep -c . || true)"
  term_y="$(e2ectl get pods -o "jsonpath={range .items[?(@.spec.nodeName==\"${y}\")]}{.metadata.deletionTimestamp}{\"\\n\"}{end}" | grep -c . || true)"
  echo "terminating pods: ${x} ${term_x}, ${y} ${term_y}"
  if ! { ((term_x > 0 && term_y == 0)) || ((term_x == 0 && term_y > 0)); }; then
    echo "want exactly one of ${x} and ${y} evicted" >&2
    return 1
  fi
  dups="$(pods_evicted_or_deleted | uniq -d)$(evicted_twice "${pod}")"
  [[ -z "${dups}" ]] || { echo "pods evicted twice: ${dups}" >&2; return 1; }
  summary budget "2 of 2 nodes per hour used across the leader change; the third failed node held"
}
