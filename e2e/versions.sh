# shellcheck shell=bash
# Pinned versions (must agree with e2e/go.mod).
K8S_VERSION=v1.37.1
K8S_MAJOR=1
K8S_MINOR=37
ETCD_VERSION=v3.7.0
export K8S_VERSION K8S_MAJOR K8S_MINOR ETCD_VERSION
# The real node's runtime (e2e/realnode.sh), `go install`ed from their modules: containerd v2
# (kubelet 1.38 drops containerd 1.x) and the CNI reference plugins.
CONTAINERD_VERSION=v2.4.2
CNI_PLUGINS_VERSION=v1.10.0
