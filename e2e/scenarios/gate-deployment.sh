# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# The quarantine holds against every new pod of a quarantined Deployment (issue 12): after the
# verdict at two nodes, the poison is scaled from 1 to 3 replicas (an HPA would), rolled out (a
# new ReplicaSet), and its pods pinned on the dead nodes are force-deleted (an operator cleaning
# up). Every new pod gets the scheduling gate firebreak.dev/quarantine from firebreak's webhook,
# called by the real API server over TLS, and waits Pending; no third node is lost, and the
# innocent workloads moved off the first nodes are never quarantined.
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="quarantined Deployment scaled up, rolled out, pinned pods deleted: every new pod gated"

scenario_run() {
  # shellcheck source=../gate.sh
  source "${E2E_DIR}/gate.sh"
  gate_start
  gate_cascade poison
  step "scale the quarantined Deployment from 1 to 3 replicas"
  e2ectl deploy poison --replicas 3 --poison
  e2ectl expect-gated --app poison --count 2 --timeout 30s
  e2ectl expect-event --reason QuarantineGated --kind Pod --name poison --count 2 --timeout 30s
  e2ectl expect-event --reason QuarantineGated --kind Deployment --name poison --timeout 30s
  e2ectl wait-for quarantine deployment-poison --jsonpath '{.status.gatedPods}' --equals 2 --timeout 30s
  gate_holds poison
  step "roll the quarantined Deployment out (new ReplicaSet)"
  e2ectl deploy poison --replicas 3 --poison --cpu 20m
  e2ectl expect-gated --app poison --count 1 --timeout 30s
  gate_holds poison
  step "force-delete every pod of the poison, the pinned ones included"
  e2ectl delete-pods --app poison --force
  e2ectl expect-gated --app poison --count 3 --timeout 45s
  gate_holds poison
  e2ectl get pods -o 'jsonpath={range .items[?(@.metadata.labels.app=="poison")]}{.metadata.name}{" gates="}{.spec.schedulingGates[*].name}{" node="}{.spec.nodeName}{"\n"}{end}' |
    tee "${LOG_DIR}/poison-pods.txt"
  summary result PASS
  summary gated "$(e2ectl get quarantine deployment-poison -o 'jsonpath={.status.gatedPods}') pods held by the gate"
}
