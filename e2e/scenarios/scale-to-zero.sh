# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# ScaleToZero: an EvictionBudget over every node with poison.action ScaleToZero. The poison
# Deployment (1 replica) kills two nodes and is quarantined as in cascade-firebreak; firebreak
# records its replica count in the annotation firebreak.dev/replicas-before-quarantine, scales it
# to 0 through the scale subresource (Quarantine ACTION ScaleToZero, status.scaledFromReplicas 1,
# Event ScaledToZero) and its pod is deleted by the ReplicaSet (Terminating on the dead node). The
# innocent Deployment is not touched. Deleting the Quarantine gives the 1 replica back, removes
# the annotation (Event ScaleRestored) and the taints. (The restored pod lands on a healthy node
# where, this being the poison, it would kill the node ~10 s later; the scenario ends first.)
SCENARIO_MODE=firebreak
SCENARIO_NODES=6
SCENARIO_DESCRIPTION="poison.action ScaleToZero: the quarantine scales the poison to 0, the release back to 1"

scenario_run() {
  need_firebreak
  step "apply CRDs and a ScaleToZero budget over every node, start firebreak"
  apply_crds
  e2ectl apply - <<'YAML'
apiVersion: firebreak.dev/v1alpha1
kind: EvictionBudget
metadata:
  name: scale-to-zero
spec:
  poison: {action: ScaleToZero}
YAML
  start_firebreak firebreak 18080 --leader-elect=false
  step "deploy web and poison"
  e2ectl deploy web --replicas 4
  e2ectl rollout web --timeout 60s
  local t0=${SECONDS} lost q live i t_scaled t_restored
  local ann='{.metadata.annotations.firebreak\.dev/replicas-before-quarantine}'
  e2ectl deploy poison --replicas 1 --poison
  # A third loss would come ~28 s after the second (toleration 10 s + poison 10 s + grace 8 s).
  e2ectl expect-contained --app poison --max-nodes 2 --settle 40s --timeout 150s
  lost="$(e2ectl failed-nodes)"
  q="$(e2ectl get quarantines -o 'jsonpath={.items[0].metadata.name}')"
  step "check Quarantine ${q}: ScaleToZero, poison at 0 replicas, count annotated"
  e2ectl get quarantines -A | tee "${LOG_DIR}/quarantines.txt"
  e2ectl wait-for quarantine "${q}" --jsonpath '{.spec.action}' --equals ScaleToZero --timeout 10s
  e2ectl wait-for deployment poison --jsonpath '{.spec.replicas}' --equals 0 --timeout 20s
  e2ectl wait-for deployment poison --jsonpath "${ann}" --equals 1 --timeout 5s
  e2ectl wait-for quarantine "${q}" --jsonpath '{.status.scaledFromReplicas}' --equals 1 --timeout 10s
  t_scaled=$((SECONDS - t0))
  e2ectl expect-event --reason ScaledToZero --kind Deployment --name poison --contains "from 1 to 0" --timeout 10s
  e2ectl expect-event --reason Quarantined --kind Deployment --name poison --contains "scaled to 0 replicas"
  e2ectl expect-taint --node "${lost}" --key firebreak.dev/quarantine --timeout 10s
  # No poison pod left that is not terminating (the one on the dead node stays Terminating).
  for i in $(seq 1 30); do
    live="$(e2ectl get pods -o 'jsonpath={range .items[?(@.metadata.labels.app=="poison")]}{.metadata.deletionTimestamp}{"/"}{.metadata.name}{" "}{end}' | tr ' ' '\n' | grep -c '^/' || true)"
    ((live == 0)) && break
    sleep 0.5
  done
  ((live == 0)) || { echo "${live} poison pod(s) still not terminating at 0 replicas" >&2; return 1; }
  # The innocent Deployment keeps its replicas and carries no annotation.
  e2ectl wait-for deployment web --jsonpath '{.spec.replicas}' --equals 4 --timeout 5s
  e2ectl wait-for deployment web --jsonpath "${ann}" --equals '' --timeout 5s
  step "delete Quarantine ${q}"
  local t1=${SECONDS}
  e2ectl delete quarantine "${q}"
  e2ectl wait-for deployment poison --jsonpath '{.spec.replicas}' --equals 1 --timeout 20s
  e2ectl wait-for deployment poison --jsonpath "${ann}" --equals '' --timeout 10s
  t_restored=$((SECONDS - t1))
  e2ectl expect-event --reason ScaleRestored --kind Deployment --name poison --contains "restored to 1 replica" --timeout 10s
  e2ectl expect-taint --key firebreak.dev/quarantine --absent --timeout 15s
  if grep -Eq 'could not (scale|restore)' "${LOG_DIR}/firebreak.log"; then
    grep -E 'could not (scale|restore)' "${LOG_DIR}/firebreak.log" | head -n 3 >&2
    echo "firebreak retried a scale (see above)" >&2
    return 1
  fi
  summary result PASS
  summary nodes_lost "$(tr ',' '\n' <<<"${lost}" | grep -c .)"
  summary quarantine "${q} (Deployment poison, action ScaleToZero)"
  summary scaled "poison 1 -> 0 replicas, annotation firebreak.dev/replicas-before-quarantine=1, status.scaledFromReplicas=1 (${t_scaled} s after the poison was deployed)"
  summary restored "poison 0 -> 1 replica, annotation removed, taints removed (${t_restored} s after the Quarantine was deleted)"
}
