# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Random independent failures in a busy cluster: four innocent Deployments have just rolled
# out onto every node; two random nodes in different zones fail a few seconds apart. Each
# Deployment "arrived shortly before" both failures, but also on the nodes that did not fail:
# firebreak must quarantine nothing and evict every pod of the failed nodes normally.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="random failures of nodes running freshly rolled-out innocent workloads: no quarantine"

scenario_run() {
  need_firebreak
  step "apply CRDs, start firebreak"
  apply_crds
  start_firebreak firebreak 18080 --leader-elect=false
  step "roll out four innocent workloads"
  local a
  for a in web api worker cache; do
    e2ectl deploy "${a}" --replicas 6
  done
  e2ectl rollout web api worker cache --timeout 60s
  # Nodes are assigned to zones round robin (node-1 zone-a, node-2 zone-b, ...): pick two
  # nodes of different zones at random.
  local n1 n2
  n1=$((RANDOM % 6 + 1))
  n2=$(((n1 + RANDOM % 2) % 6 + 1))   # n1+1 or n1+2 (mod 6): another zone
  step "fail node-${n1}, then node-${n2} 5 s later"
  fail_node "node-${n1}"
  sleep 5
  fail_node "node-${n2}"
  e2ectl expect-moved --node "node-${n1},node-${n2}" --timeout 60s
  e2ectl expect-event --reason FailureRecorded --kind Node --count 2
  sleep 3
  e2ectl expect-quarantine --absent
  e2ectl expect-event --reason Quarantined --absent
  e2ectl expect-taint --key firebreak.dev/quarantine --absent
  summary failed "node-${n1},node-${n2}; no quarantine"
}
