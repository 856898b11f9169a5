# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# slow-poison with the ratio rule (poison.verdict: Ratio) and its windows compressed the same
# way (arrival window 20 s, window 40 s): the poison kills 48 s after it arrives, outside the
# arrival window, so no failure lists it and the cascade goes on; the scenario passes when a
# third node is lost with no Quarantine (what the surprise verdict prevents).
# shellcheck source=slow-poison.sh
source "${E2E_DIR}/scenarios/slow-poison.sh"
SCENARIO_DESCRIPTION="slow poison with the ratio rule: missed, a third node lost"

scenario_run() {
  slow_poison_start Ratio 40s 20s
  local n=0 t0=${SECONDS}
  while ((SECONDS - t0 < 300)); do
    n="$(e2ectl failed-nodes | tr ',' '\n' | grep -c . || true)"
    ((n >= 3)) && break
    sleep 2
  done
  ((n >= 3)) || { echo "the cascade stopped at ${n} nodes with the ratio rule" >&2; return 1; }
  e2ectl expect-quarantine --absent
  e2ectl expect-event --reason Quarantined --absent
  summary result PASS
  summary nodes_lost "${n} (and counting) after $((SECONDS - t0)) s, no Quarantine"
}
