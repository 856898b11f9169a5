#!/usr/bin/env bash
# Print cascade-baseline and cascade-firebreak side by side, from the figures the two scenarios
# recorded (e2e/.run/results/<scenario>/logs/summary.txt).  Used by run.sh and scripts/demo.sh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

get() { # SCENARIO KEY
  local f="${RUN_DIR}/results/$1/logs/summary.txt"
  [[ -f "${f}" ]] && sed -n "s/^$2=//p" "${f}" | tail -n1
  return 0
}
b=cascade-baseline f=cascade-firebreak
row() { printf '%-22s | %-44s | %s\n' "$1" "$2" "$3"; }
echo "==== the same poison Deployment (1 replica), the same 6-node cluster in 3 zones ===="
row "" "default Kubernetes ($b)" "firebreak ($f)"
row "----------------------" "--------------------------------------------" "--------------------------------------------"
row "result" "$(get $b result)" "$(get $f result)"
row "nodes lost" "$(get $b nodes_lost) ($(get $b lost_nodes))" "$(get $f nodes_lost) ($(get $f lost_nodes))"
row "poison pod" "$(get $b poison)" "$(get $f poison)"
row "innocent pods" "$(get $b innocent)" "$(get $f innocent)"
row "quarantine" "-" "$(get $f quarantine)"
row "observed for" "$(get $b observed)" "$(get $f observed)"
