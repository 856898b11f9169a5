#!/usr/bin/env bash
# firebreak's demo, on a fresh Debian machine (Go: the machine's if new enough, else fetched):
#   1. installs what is missing (scripts/install-deps.sh, FB_NEED_GO=1);
#   2. builds firebreak (build/release) and the e2e control plane (e2e/bin: etcd,
#      kube-apiserver, kube-controller-manager, kube-scheduler v1.37.1, fakelet, e2ectl);
#   3. runs the cascade three times on a local 6-node cluster: default Kubernetes
#      (cascade-baseline: the poison Deployment takes node after node), firebreak with
#      Kubernetes' taint-eviction controller off (cascade-firebreak: quarantined at the
#      second node), and firebreak in managed mode with that controller on, as on EKS, GKE
#      or AKS (managed-cascade: quarantined at the second node, no pod deleted by Kubernetes);
#   4. prints the outcome side by side, the Quarantine, and the Events firebreak wrote.
# Leaves nothing running (each scenario's cluster is stopped; Ctrl-C stops it too).
# Artifacts: e2e/.run/results/{cascade-baseline,cascade-firebreak,managed-cascade}/ (logs,
# timeline, events.txt).
# Usage: scripts/demo.sh     (FB_DEMO_SKIP_DEPS=1 skips step 1)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t0=${SECONDS}
step() { printf '\n==== %s\n' "$*"; }

trap '"${root}/e2e/cluster.sh" down >/dev/null 2>&1 || true' EXIT

if [ "${FB_DEMO_SKIP_DEPS:-0}" != 1 ]; then
  step "dependencies (scripts/install-deps.sh)"
  FB_NEED_GO=1 scripts/install-deps.sh
fi
go=$(scripts/go-toolchain.sh)
export PATH="${go%/*}:${PATH}"

step "build firebreak (C, build/release)"
cmake -S . -B build/release -G Ninja -DFB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build/release firebreak

step "build the control plane and the e2e tools (e2e/bin; the first build takes ~10 min)"
e2e/build.sh

step "the cascade: default Kubernetes, firebreak, firebreak in managed mode (about 6 minutes)"
rc=0
E2E_COMPARE=0 e2e/run.sh cascade-baseline cascade-firebreak managed-cascade || rc=$?

results=e2e/.run/results
step "outcome"
e2e/compare.sh || true
echo
echo "---- the Quarantine firebreak wrote (e2ectl get quarantines -A, as kubectl get quarantines -A)"
cat "${results}/cascade-firebreak/logs/quarantines.txt" 2>/dev/null || echo "(none recorded)"
echo
echo "---- the Events firebreak wrote (as kubectl get events -A, reportingController firebreak.dev/firebreak)"
grep -F 'firebreak.dev/firebreak' "${results}/cascade-firebreak/logs/events.txt" 2>/dev/null || echo "(none recorded)"
echo
echo "timelines, logs, Events: ${results}/cascade-baseline/, ${results}/cascade-firebreak/, ${results}/managed-cascade/"
echo "demo took $((SECONDS - t0)) s; $( ((rc == 0)) && echo 'all three scenarios PASSED' || echo 'a scenario FAILED')"
exit "${rc}"
