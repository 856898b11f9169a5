#!/usr/bin/env bash
# Build the e2e binaries into e2e/bin/ (cached by the Go build cache: a second run takes seconds).
#   e2e/build.sh            control plane + etcd + our tools
#   e2e/build.sh kubectl    also kubectl (optional, for humans)
#   e2e/build.sh realnode   also the real node's binaries, into bin/realnode/ (realnode.sh):
#                           kubelet and kube-proxy (this module), the sandbox image's pause,
#                           containerd v2 and the CNI plugins (go install at versions.sh's pins)
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
if [[ "${1:-}" == "realnode" ]]; then
  mkdir -p bin/realnode/cni
  nice -n 10 go build -ldflags "${ldflags}" -o bin/realnode/ \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
  CGO_ENABLED=0 nice -n 10 go build -ldflags "-s -w" -o bin/realnode/pause ./cmd/pause
  ctrd=github.com/containerd/containerd/v2/cmd
  GOBIN="${E2E_DIR}/bin/realnode" nice -n 10 go install \
    "${ctrd}/containerd@${CONTAINERD_VERSION}" "${ctrd}/containerd-shim-runc-v2@${CONTAINERD_VERSION}" \
    "${ctrd}/ctr@${CONTAINERD_VERSION}"
  cni=github.com/containernetworking/plugins/plugins
  GOBIN="${E2E_DIR}/bin/realnode/cni" nice -n 10 go install "${cni}/main/bridge@${CNI_PLUGINS_VERSION}" \
    "${cni}/ipam/host-local@${CNI_PLUGINS_VERSION}" "${cni}/main/loopback@${CNI_PLUGINS_VERSION}"
fi
echo "e2e build: done in $(( $(date +%s) - start ))s -> ${E2E_DIR}/bin" >&2
