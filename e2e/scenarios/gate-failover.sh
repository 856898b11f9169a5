# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Every replica serves the webhook (issue 12), not only the leader: a webhook that followed the
# Lease would be down during every failover. Two replicas with leader election, each serving the
# webhook on its own port; the webhook configuration points the API server at the FOLLOWER.
# After the leader's verdict, the follower gates the poison's new pods from its own caches. Then
# the leader is SIGKILLed and the poison scaled again while no one holds the Lease: the new pods
# are gated all the same, and the follower, once leader, holds the quarantine.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="the follower's webhook gates; pods created during a failover are gated"

scenario_run() {
  # shellcheck source=../gate.sh
  source "${E2E_DIR}/gate.sh"
  need_firebreak
  step "apply CRDs, two replicas each serving the webhook; the configuration points at fb-b"
  apply_crds
  local cfg="${RUN_DIR}/firebreak-le.yaml" pid gated_b t_gated t_lead
  printf 'leaderElection:\n  enabled: true\n  name: firebreak\n  leaseDuration: 6s\n  renewDeadline: 4s\n  retryPeriod: 1s\n' >"${cfg}"
  install_webhook 19444
  start_firebreak fb-a 18081 --webhook 19443 --config "${cfg}" --lease-namespace default
  wait_for_log fb-a 'msg="?became leader' 30 || { echo "fb-a did not become leader" >&2; return 1; }
  start_firebreak fb-b 18082 --webhook 19444 --config "${cfg}" --lease-namespace default
  wait_for_log fb-b 'msg="?leader observed' 30 || { echo "fb-b did not observe the leader" >&2; return 1; }
  e2ectl expect-webhook "${FB_WEBHOOK_RELEASE}" --timeout 30s
  wait_for_log fb-b 'msg="?webhook certificate loaded' 30 || { echo "fb-b loaded no certificate" >&2; return 1; }
  gate_cascade poison
  step "scale the poison to 3: the follower fb-b gates the new pods"
  e2ectl deploy poison --replicas 3 --poison
  e2ectl expect-gated --app poison --count 2 --timeout 30s
  gated_b="$(curl -fsS http://127.0.0.1:18082/metrics | awk '$1 == "firebreak_webhook_reviews_total{outcome=\"gated\"}" {print $2}')"
  echo "fb-b (follower) gated ${gated_b:-0} pod(s)"
  [[ "${gated_b:-0}" != 0 ]] || { echo "the follower's webhook gated nothing" >&2; return 1; }
  pid="$(pid_of fb-a)"
  step "SIGKILL the leader fb-a (pid ${pid}); scale the poison to 5 while no one leads"
  kill -KILL "${pid}"
  e2ectl deploy poison --replicas 5 --poison
  e2ectl expect-gated --app poison --count 4 --timeout 20s
  t_gated="$(date -u +%s.%N)"
  wait_for_log fb-b 'msg="?became leader' 30 || { echo "fb-b did not take over within 30 s" >&2; return 1; }
  t_lead="$(fb_log_time fb-b 'msg="?became leader')"
  # the two new pods were gated while no replica held the Lease (it expires 6 s after the kill)
  awk -v g="${t_gated}" -v l="${t_lead}" 'BEGIN { exit !(g < l) }' ||
    { echo "the pods were gated only after fb-b took the Lease: not a failover test" >&2; return 1; }
  echo "gated $(awk -v g="${t_gated}" -v l="${t_lead}" 'BEGIN { printf "%.1f", l - g }') s before fb-b took the Lease"
  gate_holds poison
  summary result PASS
  summary follower_gated "${gated_b} pod(s) gated by the follower; 2 more during the failover"
}
