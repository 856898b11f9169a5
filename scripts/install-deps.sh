#!/usr/bin/env bash
# Installs whatever firebreak's build, tests and local cluster need and is
# missing, from Debian's packages. Idempotent: a machine that has everything
# makes no change. With FB_NEED_GO=1, Go too (for the e2e control plane):
# the machine's if it is new enough (on PATH or /usr/local/go), else the
# toolchain from the Go module proxy (scripts/go-toolchain.sh); Debian's
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

# Go (the e2e control plane, helm, promtool): the machine's when new enough, else fetched from
# the Go module proxy and checksum-verified (scripts/go-toolchain.sh, which callers ask for the
# path: scripts/test.sh, scripts/demo.sh)
if [ "${FB_NEED_GO:-0}" = 1 ]; then
  "$(dirname "$0")/go-toolchain.sh" >/dev/null
fi
exit 0
