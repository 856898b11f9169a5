#!/usr/bin/env bash
# The scale benchmark: firebreak's informers + decision core against a controller
# written with client-go shared informers, on the same recorded cluster served by
# the same replay server, with the DESIGN.md section 6 targets. See docs/benchmarks.md.
#
#   bench/run.sh            5,000 nodes, 150,000 pods, 50,000 watch events (~5 min on 2 cores,
#                           ~6 GB RAM for the client-go side, 1.7 GB of data generated once)
#   bench/run.sh --small    500 nodes, 15,000 pods, 5,000 events (about a minute; CI)
#   bench/run.sh --nodes N --pods P --events E [--seed S]
# Then the decision core's tick alone on a synthetic cluster of the same size (fb_tick_bench).
#   options: --only firebreak|client-go   --json (print the raw results too)
#            --strip-managed-fields (baseline variant: client-go drops managedFields in a transform)
#
# Everything runs at nice 19. The data set is generated once (seeded, deterministic)
# into build/bench/data-*/ and reused. Exit status: 0 when both sides completed (the
# targets are reported, not enforced).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/build/bench"
GO="${GO:-/usr/local/go/bin/go}"
export GOTOOLCHAIN=local

nodes=5000 pods=150000 events=50000 seed=1 only="" show_json=0 cg_args=() cg_name="client-go"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --small) nodes=500 pods=15000 events=5000; shift ;;
    --tiny) nodes=50 pods=1500 events=500; shift ;;
    --nodes) nodes="$2"; shift 2 ;;
    --pods) pods="$2"; shift 2 ;;
    --events) events="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --json) show_json=1; shift ;;
    --strip-managed-fields) cg_args=(-strip-managed-fields); cg_name="client-go*"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

renice -n 19 $$ >/dev/null # builds, server and both sides inherit it
mkdir -p "${OUT}"
log() { printf '[bench] %s\n' "$*" >&2; }

# ---- build ------------------------------------------------------------------------
log "building fb_bench (CMake, ${OUT}/cmake) and the Go tools (e2e module)"
if [[ ! -f "${OUT}/cmake/build.ninja" ]]; then
  cmake -S "${ROOT}" -B "${OUT}/cmake" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"${OUT}/build.log" 2>&1 || { cat "${OUT}/build.log" >&2; exit 1; }
fi
ninja -C "${OUT}/cmake" fb_bench fb_tick_bench >>"${OUT}/build.log" 2>&1 || { tail -40 "${OUT}/build.log" >&2; exit 1; }
(cd "${ROOT}/e2e" && "${GO}" build -o "${OUT}/bench-replay" ./cmd/bench-replay &&
  "${GO}" build -o "${OUT}/bench-clientgo" ./cmd/bench-clientgo) >>"${OUT}/build.log" 2>&1 ||
  { tail -40 "${OUT}/build.log" >&2; exit 1; }

# ---- data -------------------------------------------------------------------------
DATA="${OUT}/data-${nodes}n-${pods}p-${events}e-s${seed}"
if [[ ! -f "${DATA}/meta.json" ]]; then
  log "generating ${DATA} (once)"
  rm -rf "${DATA}"
  "${OUT}/bench-replay" gen -dir "${DATA}" -nodes "${nodes}" -pods "${pods}" -events "${events}" \
    -seed "${seed}" >&2
fi
expect=$(jq '.nodeEvents + .podEvents' "${DATA}/meta.json")

# ---- one side -----------------------------------------------------------------------
SERVER_PID=""
stop_server() {
  if [[ -n "${SERVER_PID}" ]]; then
    kill "${SERVER_PID}" 2>/dev/null || true
    wait "${SERVER_PID}" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap stop_server EXIT

run_side() { # name result-file command...
  local name="$1" result="$2"; shift 2
  local portfile="${OUT}/port.$$"
  rm -f "${portfile}"
  "${OUT}/bench-replay" serve -dir "${DATA}" -port-file "${portfile}" >"${OUT}/server-${name}.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 600); do [[ -s "${portfile}" ]] && break; sleep 0.1; done
  [[ -s "${portfile}" ]] || { log "replay server did not start"; cat "${OUT}/server-${name}.log" >&2; exit 1; }
  local url="http://127.0.0.1:$(cat "${portfile}")"
  rm -f "${portfile}"
  log "running ${name} against ${url}"
  if ! "$@" "${url}" >"${result}" 2>"${OUT}/${name}.log"; then
    log "${name} failed:"; tail -20 "${OUT}/${name}.log" >&2; stop_server; exit 1
  fi
  stop_server
}

FB_JSON="${OUT}/result-firebreak.json" CG_JSON="${OUT}/result-client-go.json"
fb_cmd() { "${OUT}/cmake/bench/fb_bench" --expect-events "${expect}" --server "$1"; }
cg_cmd() { "${OUT}/bench-clientgo" "${cg_args[@]}" -expect-events "${expect}" -server "$1"; }
echo '{}' >"${FB_JSON}"
echo '{}' >"${CG_JSON}"
[[ "${only}" == "client-go" ]] || run_side firebreak "${FB_JSON}" fb_cmd
[[ "${only}" == "firebreak" ]] || run_side "${cg_name%\*}" "${CG_JSON}" cg_cmd
if [[ ${show_json} == 1 ]]; then cat "${FB_JSON}" "${CG_JSON}"; fi

# ---- the table ----------------------------------------------------------------------
jq -n -r --arg cgname "${cg_name}" --slurpfile fb "${FB_JSON}" --slurpfile cg "${CG_JSON}" --slurpfile m "${DATA}/meta.json" '
  $fb[0] as $f | $cg[0] as $c | $m[0] as $m |
  def r1: . * 10 | round / 10;
  def r2: . * 100 | round / 100;
  def mib: if . == null then "-" else (. / 1024 | r1 | tostring) + " MiB" end;
  def sec: if . == null then "-" else (r2 | tostring) + " s" end;
  def num: if . == null then "-" else (round | tostring) end;
  def ms: if . == null then "-" else (. / 1000 | r2 | tostring) + " ms" end;
  def ratio(a; b): if a == null or b == null or a == 0 then "-" else "1/" + (b / a | r1 | tostring) end;
  def xratio(a; b): if a == null or b == null or b == 0 then "-" else (a / b | r2 | tostring) + "x" end;
  # target: a <= b/k
  def verdict(a; b; k): if a == null or b == null then "-"
    elif a * k <= b then "met"
    else "MISSED by " + ((a * k / b - 1) * 100 | round | tostring) + "% (needs <= " + (b / k / 1024 | r1 | tostring) + ")" end;
  def verdict_s(a; b; k): if a == null or b == null then "-"
    elif a * k <= b then "met"
    else "MISSED by " + ((a * k / b - 1) * 100 | round | tostring) + "% (needs <= " + (b / k | r2 | tostring) + " s)" end;
  def row(l; a; b; r; t; v): [l, a, b, r, t, v];
  [
    ["", "firebreak", $cgname, "ratio", "target", "verdict"],
    row("peak RSS (VmHWM)"; $f.hwm_kb | mib; $c.hwm_kb | mib; ratio($f.hwm_kb; $c.hwm_kb); "<= 1/10";
        verdict($f.hwm_kb; $c.hwm_kb; 10) | sub("\\)$"; " MiB)")),
    row("RSS after sync"; $f.rss_at_sync_kb | mib; $c.rss_at_sync_kb | mib; ratio($f.rss_at_sync_kb; $c.rss_at_sync_kb); ""; ""),
    row("live heap at end (malloc / Go GC)"; $f.heap_live_end_kb | mib; $c.heap_live_after_gc_kb | mib; ratio($f.heap_live_end_kb; $c.heap_live_after_gc_kb); ""; ""),
    row("CPU to initial sync (user+sys)"; $f.sync_cpu_s | sec; $c.sync_cpu_s | sec; ratio($f.sync_cpu_s; $c.sync_cpu_s); "<= 1/3";
        verdict_s($f.sync_cpu_s; $c.sync_cpu_s; 3)),
    row("wall time to initial sync"; $f.sync_wall_s | sec; $c.sync_wall_s | sec; ratio($f.sync_wall_s; $c.sync_wall_s); ""; ""),
    row("watch events/s (burst)"; $f.events_per_s | num; $c.events_per_s | num; xratio($f.events_per_s; $c.events_per_s); ""; ""),
    row("CPU for the burst"; $f.burst_cpu_s | sec; $c.burst_cpu_s | sec; ratio($f.burst_cpu_s; $c.burst_cpu_s); ""; ""),
    row("decision latency p50"; $f.lat_p50_us | ms; $c.lat_p50_us | ms; ""; ""; ""),
    row("decision latency p99"; $f.lat_p99_us | ms; $c.lat_p99_us | ms; ""; "< 10 ms";
        if $f.lat_p99_us == null then "-" elif $f.lat_p99_us < 10000 then "met"
        else "MISSED by " + (($f.lat_p99_us / 10000 - 1) * 100 | round | tostring) + "%" end),
    row("decision latency max"; $f.lat_max_us | ms; $c.lat_max_us | ms; ""; ""; ""),
    row("  of which wait for tick p50/p99"; (($f.wait_p50_us | ms) + " / " + ($f.wait_p99_us | ms)); "-"; ""; ""; ""),
    row("core tick p50 / p99 / max"; (($f.tick_p50_us | ms) + " / " + ($f.tick_p99_us | ms) + " / " + ($f.tick_max_us | ms)); "-"; ""; ""; ""),
    row("first tick (whole state)"; $f.first_tick_us | ms; "-"; ""; ""; ""),
    row("objects cached (nodes/pods)"; "\($f.nodes // "-")/\($f.pods // "-")"; "\($c.nodes // "-")/\($c.pods // "-")"; ""; ""; "")
  ] as $rows |
  "firebreak vs client-go: \($m.nodes) nodes, \($m.pods) pods (avg pod \($m.podBytes / $m.pods / 1024 | r1) KiB of JSON, " +
  "\(($m.nodeBytes + $m.podBytes) / 1048576 | round) MiB listed), burst of \($m.nodeEvents) node + \($m.podEvents) pod watch events, seed \($m.seed)",
  ($rows[] | "\(.[0] | . + (" " * (34 - length)))\(.[1] | . + (" " * (30 - length)))\(.[2] | . + (" " * (14 - length)))\(.[3] | . + (" " * (9 - length)))\(.[4] | . + (" " * (10 - length)))\(.[5])"),
  "client-go latency column: event handler -> workqueue worker (its analogue of a decision).",
  (if $cgname == "client-go*" then "client-go*: variant with metadata.managedFields dropped by an informer transform." else empty end),
  "firebreak actions decided (not executed): \($f.actions // {} | tojson); core: \($f.core // {} | tojson)"
'

# ---- the core's tick alone (synthetic cluster of the same size, no JSON) ------------------
echo
echo "fb_core_tick alone (bench/fb_tick_bench.c, synthetic ${nodes} nodes / ${pods} pods; target: a decision < 10 ms):"
"${OUT}/cmake/bench/fb_tick_bench" "${nodes}" "${pods}" 1 "${nodes}" "${pods}" 10
