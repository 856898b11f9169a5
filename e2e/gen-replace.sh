#!/usr/bin/env bash
# Print the replace block for the staging modules of a Kubernetes release: every
# "k8s.io/X v0.0.0" requirement of k8s.io/kubernetes@v1.M.P's go.mod -> k8s.io/X v0.M.P.
#   e2e/gen-replace.sh [v1.37.1]     (default: K8S_VERSION from versions.sh)
# To move to another release: update versions.sh, paste this output over the replace
# block of go.mod, then `go get -tool k8s.io/kubernetes/cmd/...@NEW` and `go mod tidy`.
set -euo pipefail
E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "${E2E_DIR}/versions.sh"
ver="${1:-${K8S_VERSION}}"
staging_ver="v0.${ver#v1.}"
modfile="$(cd "${E2E_DIR}" && GOTOOLCHAIN=local go mod download -json "k8s.io/kubernetes@${ver}" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
[[ -f "${modfile}" ]] || { echo "cannot download k8s.io/kubernetes@${ver}" >&2; exit 1; }
echo "// Staging modules of k8s.io/kubernetes ${ver}: every \"k8s.io/X v0.0.0\" line of its go.mod,"
echo "// pinned to the matching ${staging_ver} (regenerate with ./gen-replace.sh when changing the version)."
echo "replace ("
awk -v v="${staging_ver}" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { printf "\t%s => %s %s\n", $1, $1, v }' "${modfile}" | sort -u
echo ")"
