#!/usr/bin/env bash
# Print cascade-baseline, cascade-firebreak and managed-cascade side by side, from the figures the
# scenarios recorded (e2e/.run/results/<scenario>/logs/summary.txt); a scenario not run shows "-".
# Used by run.sh and scripts/demo.sh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

get() { # SCENARIO KEY
  local f="${RUN_DIR}/results/$1/logs/summary.txt" v=""
  [[ -f "${f}" ]] && v="$(sed -n "s/^$2=//p" "${f}" | tail -n1)"
  echo "${v:--}"
}
b=cascade-baseline f=cascade-firebreak m=managed-cascade
row() { printf '%-28s | %-40s | %-40s | %s\n' "$1" "$2" "$3" "$4"; }
line="----------------------------------------"
echo "==== the same poison Deployment (1 replica), the same 6-node cluster in 3 zones ===="
row "" "default Kubernetes ($b)" "firebreak ($f)" "firebreak, managed mode ($m)"
row "" "taint-eviction controller on" "taint-eviction controller off" "taint-eviction controller on"
row "----------------------------" "${line}" "${line}" "${line}"
row "result" "$(get $b result)" "$(get $f result)" "$(get $m result)"
row "nodes lost" "$(get $b nodes_lost) ($(get $b lost_nodes))" "$(get $f nodes_lost) ($(get $f lost_nodes))" \
  "$(get $m nodes_lost) ($(get $m lost_nodes))"
row "poison pod" "$(get $b poison)" "$(get $f poison)" "$(get $m poison)"
row "innocent pods" "$(get $b innocent)" "$(get $f innocent)" "$(get $m innocent)"
row "quarantine" "-" "$(get $f quarantine)" "$(get $m quarantine)"
row "deleted by the taint manager" "all of the failed nodes' pods" "- (controller off)" "$(get $m taint_manager_evictions)"
row "observed for" "$(get $b observed)" "$(get $f observed)" "$(get $m observed)"
