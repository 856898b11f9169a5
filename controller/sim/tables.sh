#!/usr/bin/env bash
# The tables of docs/simulator.md's "Issue 15" section, regenerated: the killAfter tables of
# both verdicts (100 seeds), the surprise verdict at other false-alarm limits, and the
# calibration of its false-alarm rate. Usage: controller/sim/tables.sh [BUILD_DIR] (default
# build/release); about 10 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
sim="${1:-build/release}/controller/firebreak-sim"
[[ -x "${sim}" ]] || { echo "no ${sim}: build it first (ninja -C build/release)" >&2; exit 1; }
dir=controller/sim/scenarios
seeds=100

# one row per killAfter: nodes lost mean / p99 / max and caught, for each firebreak policy
kill_table() {
  local scenario="$1" duration="$2"
  shift 2
  printf '%-8s %-16s %6s %5s %5s %9s\n' killAfter policy mean p99 max caught
  local k
  for k in 1m 5m 30m 1h 3h 6h; do
    "${sim}" run "${dir}/${scenario}.yaml" --seeds "${seeds}" --kill-after "${k}" \
      --duration "${duration}" --policy firebreak --policy firebreak-ratio "$@" |
      awk -v k="${k}" '$2 ~ /^firebreak/ { printf "%-8s %-16s %6s %5s %5s %9s\n", k, $2, $3, $4, $5, $12 }'
  done
}

echo "== poison-slow (40 nodes, random failures 0.01/node/day): nodes lost by killAfter"
kill_table poison-slow 40h
echo
echo "== poison-slow-jitter (the same, the kill delay lognormal around killAfter, sigma 0.3)"
kill_table poison-slow-jitter 40h
echo
echo "== poison-slow-mp (the same, MemoryPressure before 90 % of its kills, 5 % of random failures)"
kill_table poison-slow-mp 40h
echo
echo "== poison-slow-mp with the MemoryPressure evidence off"
kill_table poison-slow-mp 40h --no-memory-pressure-evidence
echo
echo "== poison-slow-agent (the same, firebreak-node naming its pod before 90 % of its kills, a pod before 2 % of random failures)"
kill_table poison-slow-agent 40h
echo
echo "== poison-large (1,000 nodes, 10 failures a day): nodes lost by killAfter"
kill_table poison-large 40h
echo
for f in 0.1 1; do
  echo "== poison-slow at --false-alarms-per-year ${f}"
  kill_table poison-slow 40h --false-alarms-per-year "${f}"
  echo
done
echo "== calibration-agent (firebreak-node naming the newest pod, wrongly, before 5 % of failures): 9,000 cluster-days"
"${sim}" run "${dir}/calibration-agent.yaml" --seeds 300 --policy firebreak --calibration |
  sed -n '/judgements (summed/,/^(a p/p'
echo
echo "== calibration: predicted false quarantines against measured (3,000 cluster-days a limit)"
for f in 1 10 100; do
  echo "-- --false-alarms-per-year ${f}"
  "${sim}" run "${dir}/calibration.yaml" --seeds "${seeds}" --policy firebreak --calibration \
    --false-alarms-per-year "${f}" | sed -n '/judgements (summed/,/^(a p/p'
done
