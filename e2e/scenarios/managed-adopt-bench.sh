# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# Benchmark (issue 13): how long adopting 10,000 pods that existed before the install takes, and
# giving them back (the uninstall hook's restore), with what firebreak's memory does meanwhile.
# The pods never schedule (a node selector nothing matches): only the API writes are timed. The
# adoption rate is a setting (managed.adoptRate, default 10/s: 1,000 s for 10,000 pods by
# construction); here it runs at E2E_ADOPT_RATE (default 100/s) with the client's QPS above it,
# to show what the API server and firebreak sustain, side by side with the rate asked for.
SCENARIO_MODE=managed
SCENARIO_NODES=2
SCENARIO_DESCRIPTION="benchmark: adopt and restore 10,000 pre-existing pods"
BENCH_PODS="${E2E_ADOPT_PODS:-10000}"
BENCH_RATE="${E2E_ADOPT_RATE:-100}"

# mem NAME: "VmHWM/VmRSS" in MiB of a process the harness started (lib.sh pid_of).
mem() {
  local pid
  pid="$(pid_of "$1")" || { echo "?"; return; }
  awk '/^VmHWM|^VmRSS/ { v[$1] = sprintf("%.0f", $2 / 1024) } END { print v["VmHWM:"] "/" v["VmRSS:"] " MiB" }' \
    "/proc/${pid}/status"
}

scenario_run() {
  need_firebreak
  step "create ${BENCH_PODS} pods before firebreak (no webhook)"
  local t0=${SECONDS}
  e2ectl create-pods --count "${BENCH_PODS}" --keep --label "pre-existing" | tee -a "${LOG_DIR}/bench.txt"
  summary created "${BENCH_PODS} pods in $((SECONDS - t0)) s"
  e2ectl coverage | tee -a "${LOG_DIR}/bench.txt"
  apply_crds
  step "baseline: firebreak without --managed on the same pods (memory after sync)"
  start_firebreak plain 18080 --leader-elect=false
  sleep 5
  local mem_plain
  mem_plain="$(mem plain)"
  stop_proc plain
  step "firebreak --managed --adopt-rate ${BENCH_RATE}: adopt them all"
  FB_MANAGED=1 start_firebreak firebreak 18080 --leader-elect=false --adopt-rate "${BENCH_RATE}" \
    --qps "$((BENCH_RATE * 3 / 2 + 20))" --burst "$((BENCH_RATE * 2 + 30))"
  local mem_synced
  mem_synced="$(mem firebreak)"
  e2ectl wait-covered --count "${BENCH_PODS}" --timeout 1200s | tee -a "${LOG_DIR}/bench.txt"
  local took
  took="$(sed -n 's/^covered [0-9]* pods in \([0-9.]*\) s.*/\1/p' "${LOG_DIR}/bench.txt" | tail -1)"
  summary adopt "${BENCH_PODS} pods in ${took} s at --adopt-rate ${BENCH_RATE} ($(echo "scale=1; ${BENCH_PODS} / ${took}" | bc) pods/s achieved vs ${BENCH_RATE} asked; default 10/s would take $((BENCH_PODS / 10)) s)"
  summary memory "peak/now: without --managed ${mem_plain} after sync; --managed ${mem_synced} after sync, $(mem firebreak) after adoption"
  curl -fsS http://127.0.0.1:18080/metrics | grep -E '^firebreak_managed|^firebreak_api_requests_total\{verb="PATCH"' |
    tee -a "${LOG_DIR}/bench.txt" || true
  step "the uninstall hook's restore of them all"
  stop_proc firebreak
  t0=${SECONDS}
  "${FB_BIN}" --kubeconfig "${KUBECONFIG}" --metrics-addr "" --restore-tolerations \
    --adopt-rate "${BENCH_RATE}" --qps "$((BENCH_RATE * 3 / 2 + 20))" --burst "$((BENCH_RATE * 2 + 30))" \
    >"${LOG_DIR}/restore.log" 2>&1 || { tail -20 "${LOG_DIR}/restore.log" >&2; return 1; }
  summary restore "${BENCH_PODS} pods in $((SECONDS - t0)) s (process start to exit, sync included)"
  e2ectl coverage | tee -a "${LOG_DIR}/bench.txt"
  grep -q '^covered=0 ' <(e2ectl coverage)
}
