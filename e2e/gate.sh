# shellcheck shell=bash
# Sourced by the gate-* scenarios (issue 12): firebreak with its admission webhook, reached by
# the real API server over TLS at 127.0.0.1 (install_webhook, run.sh), and the poison cascade
# that every one of them starts from.

GATE_WEBHOOK_PORT=19443

# gate_start [FIREBREAK FLAGS...]: CRDs, the chart's MutatingWebhookConfiguration, firebreak
# serving it; returns once the caBundle firebreak wrote is in place.
gate_start() {
  need_firebreak
  step "apply CRDs, install the webhook configuration, start firebreak with its webhook"
  apply_crds
  install_webhook "${GATE_WEBHOOK_PORT}"
  start_firebreak firebreak 18080 --webhook "${GATE_WEBHOOK_PORT}" --leader-elect=false "$@"
  e2ectl expect-webhook "${FB_WEBHOOK_RELEASE}" --timeout 30s
}

# gate_cascade APP: the innocent workloads, then APP (already deployed by the caller, or the
# default one-replica poison Deployment) quarantined at two nodes.
gate_cascade() {
  local app="$1"
  deploy_innocent 4
  if [[ "${app}" == poison ]]; then
    step "deploy poison"
    e2ectl deploy poison --replicas 1 --poison
  fi
  e2ectl expect-contained --app "${app}" --max-nodes 2 --settle 20s --timeout 240s
}

# gate_holds APP: no node lost beyond the verdict's two over 30 s, and no innocent quarantined.
gate_holds() {
  e2ectl expect-contained --app "$1" --max-nodes 2 --settle 30s --timeout 10s
  e2ectl expect-quarantine --app web --absent
  e2ectl expect-quarantine --app api --absent
  summary nodes_lost "$(e2ectl failed-nodes | tr ',' '\n' | grep -c .)"
}
