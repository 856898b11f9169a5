#!/usr/bin/env bash
# Build the e2e binaries into e2e/bin/ (cached by the Go build cache: a second run takes seconds).
#   e2e/build.sh            control plane + etcd + our tools
#   e2e/build.sh kubectl    also kubectl (optional, for humans)
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "${E2E_DIR}/versions.sh"
cd "${E2E_DIR}"
export GOTOOLCHAIN=local

mkdir -p bin
ver_pkg=k8s.io/component-base/version
ldflags="-s -w -X ${ver_pkg}.gitVersion=${K8S_VERSION} -X ${ver_pkg}.gitMajor=${K8S_MAJOR}"
ldflags+=" -X ${ver_pkg}.gitMinor=${K8S_MINOR} -X ${ver_pkg}.gitTreeState=clean"
ldflags+=" -X ${ver_pkg}/verflag.programName=kubernetes"

pkgs=(
  k8s.io/kubernetes/cmd/kube-apiserver
  k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kube-scheduler
  # etcd: the upstream server main (etcdmain.Main) of the version Kubernetes pins (see go.mod),
  # built in-module because `go install pkg@version` refuses modules with replace directives.
  ./cmd/etcd
  # Ours: simulated kubelets (fakelet) and the scenario driver (e2ectl).
  ./cmd/fakelet
  ./cmd/e2ectl
)
if [[ "${1:-}" == "kubectl" ]]; then
  pkgs+=(k8s.io/kubernetes/cmd/kubectl)
fi

start=$(date +%s)
# One invocation: the staleness check of the shared packages runs once (warm: seconds).
nice -n 10 go build -ldflags "${ldflags}" -o bin/ "${pkgs[@]}"
echo "e2e build: done in $(( $(date +%s) - start ))s -> ${E2E_DIR}/bin" >&2
