# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# config/validate.sh against the real API server: the CRDs are accepted and Established, the
# valid samples pass a server-side dry run, the invalid ones are rejected naming the field.
# kubectl: e2e/bin/kubectl if built (`e2e/build.sh kubectl`), $KUBECTL if set, else e2ectl's
# stand-in for the few kubectl commands the script uses (keeps the cold build short).
SCENARIO_MODE=firebreak
SCENARIO_NODES=1
SCENARIO_DESCRIPTION="config/validate.sh: CRDs, valid and invalid samples"

scenario_run() {
  local kubectl="${KUBECTL:-}"
  if [[ -z "${kubectl}" && -x "${BIN_DIR}/kubectl" ]]; then
    kubectl="${BIN_DIR}/kubectl"
  fi
  if [[ -z "${kubectl}" ]]; then
    kubectl="${RUN_DIR}/kubectl-e2ectl"
    printf '#!/bin/sh\nexec "%s" kubectl "$@"\n' "${BIN_DIR}/e2ectl" >"${kubectl}"
    chmod +x "${kubectl}"
  fi
  step "config/validate.sh (kubectl: ${kubectl})"
  KUBECTL="${kubectl}" "${REPO_DIR}/config/validate.sh" "${KUBECONFIG}"
}
