# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# A genuine failure: one node running only innocent pods stops heartbeating. firebreak evicts
# its pods within tolerationSeconds (10 s here) + 2 s of the node's Ready transition, as fast
# as Kubernetes' taint manager would, they run elsewhere, and nothing is quarantined.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="one innocent node fails: pods evicted within toleration + 2 s, no quarantine"

scenario_run() {
  need_firebreak
  step "apply CRDs, start firebreak"
  apply_crds
  start_firebreak firebreak 18080 --leader-elect=false
  deploy_innocent
  step "fail node-3"
  fail_node node-3
  local out
  out="$(e2ectl expect-evicted --node node-3 --within "$((${E2E_TOLERATION_SECONDS:-10} + 2))s" --timeout 60s)" ||
    { echo "${out}"; return 1; }
  echo "${out}"
  summary eviction_latency "$(sed -n 's/.*: max \([0-9.]*s\) over.*/\1/p' <<<"${out}") after the Ready transition (toleration ${E2E_TOLERATION_SECONDS:-10}s)"
  e2ectl expect-moved --node node-3 --timeout 30s
  e2ectl expect-event --reason EvictionStarted --kind Node --name node-3
  e2ectl expect-event --reason Evicting --kind Pod --count 2
  sleep 2
  e2ectl expect-quarantine --absent
  e2ectl expect-event --reason Quarantined --absent
  e2ectl expect-taint --key firebreak.dev/quarantine --absent
}
