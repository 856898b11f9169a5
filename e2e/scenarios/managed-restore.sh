# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Turning managed mode off, and uninstalling, leave the cluster as they found it (issue 13).
#  1. firebreak --managed covers every pod.
#  2. Disable (a helm upgrade with managed.enabled=false): the same firebreak without --managed
#     gives every covered pod its seconds back, and covers no new pod. With firebreak stopped, a
#     failed node's pods are deleted by the taint-eviction controller after 10 s, as before the
#     install.
#  3. firebreak simply deleted while pods are covered: a failed node's pods stay bound to it,
#     since nobody evicts them (docs/operations.md: what FirebreakDown covers).
#  4. Uninstall (the chart's pre-delete hook): `firebreak --restore-tolerations --stop-deployment`
#     scales firebreak's Deployment (here a stand-in) to zero, waits until no pod of it is left,
#     restores every pod and exits. node-4's pods, overdue, get the seconds left (0), so
#     Kubernetes deletes them at the restore, not tolerationSeconds after it.
SCENARIO_MODE=managed
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="disable restores; deleted without restore strands pods; the uninstall hook restores"

scenario_run() {
  need_firebreak
  step "1. firebreak --managed covers every pod"
  managed_covering fb-managed

  step "2. disable: firebreak without --managed restores"
  stop_proc fb-managed
  local t_off=${SECONDS}
  start_firebreak fb-off 18080 --webhook 19443 --leader-elect=false
  e2ectl expect-restored --seconds 10 --timeout 30s
  summary disable "12 pods back to 10 s within $((SECONDS - t_off)) s of the start without --managed"
  e2ectl deploy extra --replicas 2
  e2ectl rollout extra --timeout 60s
  e2ectl expect-restored --app extra --seconds 10 --timeout 5s
  stop_proc fb-off
  step "   firebreak gone: node-1 fails, Kubernetes evicts as before the install"
  fail_node node-1
  e2ectl expect-evicted --node node-1 --within 12s --timeout 60s
  summary node1 "$(terminated_on node-1)"
  [[ "$(terminated_on node-1)" =~ ^\ *[0-9]+\ DeletionByTaintManager$ ]] ||
    { echo "node-1's pods were not all deleted by the taint-eviction controller: $(terminated_on node-1)" >&2; return 1; }

  step "3. firebreak --managed again, then deleted without the restore"
  start_firebreak fb-managed2 18080 --webhook 19443 --managed --leader-elect=false
  e2ectl expect-covered --seconds 10 --count 12 --timeout 60s
  stop_proc fb-managed2
  fail_node node-4
  local before
  before="$(e2ectl get pods -o 'jsonpath={range .items[?(@.spec.nodeName=="node-4")]}{.metadata.name}{"\n"}{end}' | grep -c . || true)"
  e2ectl expect-stay --node node-4 --for 30s
  summary stranded "${before} pods stayed bound to failed node-4 for 30 s with no firebreak (covered: nobody evicts them)"

  step "4. the uninstall hook: --restore-tolerations --stop-deployment"
  e2ectl deploy firebreak --replicas 2 -n "${FB_WEBHOOK_NAMESPACE}"
  e2ectl rollout firebreak --timeout 60s -n "${FB_WEBHOOK_NAMESPACE}"
  timeline_mark "restore-tolerations starts"
  local t0=${SECONDS}
  "${FB_BIN}" --kubeconfig "${KUBECONFIG}" --metrics-addr "" --restore-tolerations \
    --stop-deployment firebreak --namespace "${FB_WEBHOOK_NAMESPACE}" --adopt-rate 50 \
    >"${LOG_DIR}/restore.log" 2>&1 || { cat "${LOG_DIR}/restore.log" >&2; return 1; }
  timeline_mark "restore-tolerations exited 0"
  summary restore_hook "exited 0 after $((SECONDS - t0)) s; $(grep -o 'patched=[0-9]*' "${LOG_DIR}/restore.log" | tail -1)"
  [[ "$(e2ectl get deployment firebreak -n "${FB_WEBHOOK_NAMESPACE}" -o 'jsonpath={.spec.replicas}/{.status.replicas}')" =~ ^0/(0)?$ ]] ||
    { echo "the stand-in Deployment was not scaled to zero" >&2; return 1; }
  grep -q 'scaled firebreak.s Deployment to zero' "${LOG_DIR}/restore.log"
  e2ectl expect-restored --seconds 10 --timeout 5s
  e2ectl expect-evicted --node node-4 --timeout 60s
  local t_restored t_gone
  t_restored="$(grep -m1 'restore-tolerations exited 0' "${RUN_DIR}/timeline.log" | cut -f1)"
  t_gone="$(grep -E 'terminating on node-4 ' "${RUN_DIR}/timeline.log" | tail -1 | cut -f1)"
  local after
  after="$(echo "$(date -u -d "${t_gone}" +%s.%N) - $(date -u -d "${t_restored}" +%s.%N)" | bc)"
  summary node4 "$(terminated_on node-4), the last ${after} s after the restore exited"
  # node-4 failed more than its 10 s before: the restore wrote the seconds left, 0, and
  # Kubernetes deleted them at the patch, before the restore's 3 s quiet end, not 10 s later
  (($(echo "${after} < 2" | bc))) ||
    { echo "node-4's pods went ${after} s after the restore: given the whole 10 s, not what was left" >&2; return 1; }
  [[ "$(terminated_on node-4)" =~ ^\ *[0-9]+\ DeletionByTaintManager$ ]] ||
    { echo "node-4's pods were not all deleted by the taint-eviction controller: $(terminated_on node-4)" >&2; return 1; }
}
