#!/usr/bin/env bash
# Installs whatever firebreak's build, tests and local cluster need and is
# missing, from Debian's packages. Idempotent: a machine that has everything
# makes no change. Go (for the e2e control plane) is expected at
# /usr/local/go or on PATH; it is checked, not installed, because Debian's
# golang is older than Kubernetes needs.
set -euo pipefail

# libyaml-dev: Debian's libcyaml.pc links -lyaml, but libcyaml-dev does not depend on it
pkgs=(
  cmake ninja-build pkg-config gcc clang libclang-rt-14-dev
  libcurl4-openssl-dev libcjson-dev libwebsockets-dev libssl-dev libcyaml-dev libyaml-dev
  valgrind openssl ca-certificates curl git python3 python3-yaml shellcheck
)

missing=()
for p in "${pkgs[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *"install ok installed"* ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${FB_NEED_GO:-0}" = 1 ]; then
  export PATH="$PATH:/usr/local/go/bin"
  if ! command -v go >/dev/null; then
    echo "install-deps: Go is required for the e2e control plane (expected /usr/local/go)" >&2
    exit 1
  fi
fi
exit 0
