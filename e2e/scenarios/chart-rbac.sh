# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# firebreak with exactly the RBAC the Helm chart grants. The chart is applied to the control
# plane (server-side dry run, then for real; replicas 0, so its pods do not run on the fake
# nodes: scripts/chart-e2e.sh, which also checks `auth can-i` both ways), and firebreak runs
# with a TokenRequest token of the chart's ServiceAccount and the chart's own settings file,
# campaigning for the Lease in the chart's namespace and serving the chart's admission webhook
# (self-managed certificates: the Secret in the chart's namespace, the caBundle of the chart's
# webhook configuration, here pointed at firebreak by URL). It then handles an EvictionBudget and
# the poison cascade — evictions, DisruptionTarget patches, node annotations and taints, the
# Quarantine, its finalizer and status, budget status, Events, the Lease, the webhook's Secret and
# caBundle — and must never be refused (403).
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="firebreak runs the cascade with the chart's ServiceAccount and RBAC only"

scenario_run() {
  need_firebreak
  local kubectl="${KUBECTL:-}" chart="${RUN_DIR}/chart"
  if [[ -z "${kubectl}" ]]; then
    if command -v kubectl >/dev/null; then
      kubectl="$(command -v kubectl)"
    else
      "${E2E_DIR}/build.sh" kubectl
      kubectl="${BIN_DIR}/kubectl"
    fi
  fi
  step "install the chart (server-side dry run, then for real) and get its ServiceAccount's token"
  FB_CHART_RUN=0 KUBECTL="${kubectl}" FB_CHART_OUT="${chart}" "${REPO_DIR}/scripts/chart-e2e.sh" "${KUBECONFIG}"
  step "point the chart's webhook configuration at firebreak (it runs outside the cluster: by URL)"
  install_webhook 19443
  step "start firebreak as the chart's ServiceAccount, serving the webhook"
  start_firebreak firebreak 18080 --webhook 19443 --kubeconfig "${chart}/firebreak-sa.kubeconfig" \
    --config "${chart}/firebreak.yaml"
  wait_for_log firebreak 'msg="?became leader' 30 || { echo "firebreak never took the Lease" >&2; return 1; }
  step "an EvictionBudget, innocent workloads, then the poison"
  e2ectl apply "${REPO_DIR}/config/samples/evictionbudget-default.yaml"
  e2ectl deploy web --replicas 6
  e2ectl rollout web --timeout 60s
  e2ectl deploy poison --replicas 1 --poison
  e2ectl expect-contained --app poison --max-nodes 2 --settle 30s --timeout 150s
  e2ectl expect-event --reason Quarantined --kind Deployment --name poison
  e2ectl expect-taint --node "$(e2ectl failed-nodes)" --key firebreak.dev/quarantine
  e2ectl expect-moved --node "$(e2ectl failed-nodes)" --except-app poison --timeout 30s
  step "the webhook's certificates, written with the chart's RBAC"
  e2ectl wait-for secret "${FB_WEBHOOK_RELEASE}-webhook-tls" -n "${FB_WEBHOOK_NAMESPACE}" \
    --jsonpath '{.type}' --equals kubernetes.io/tls --timeout 30s
  if [[ -z "$(e2ectl get mutatingwebhookconfiguration "${FB_WEBHOOK_RELEASE}" -o 'jsonpath={.webhooks[0].clientConfig.caBundle}')" ]]; then
    echo "firebreak did not write the webhook configuration's caBundle" >&2
    return 1
  fi
  step "nothing was refused"
  if grep -inE 'forbidden|code=\"?403' "${LOG_DIR}/firebreak.log"; then
    echo "firebreak was refused something with the chart's RBAC" >&2
    return 1
  fi
  summary result PASS
  summary rbac "cascade handled and webhook certificates kept with the chart's ServiceAccount; no request refused"
}
