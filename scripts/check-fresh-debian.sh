#!/usr/bin/env bash
# The README's set-up on a bare Debian 12, so that a package missing from
# scripts/install-deps.sh fails a test here rather than on a user's machine:
#   1. debootstrap --variant=minbase bookworm into a scratch root (Debian's mirror);
#   2. the repository copied in (the files git knows, as they are in the working tree), and the
#      machine's local CAs (/usr/local/share/ca-certificates: a network's egress proxy);
#   3. inside it, as root with no Go: scripts/install-deps.sh with FB_NEED_GO=1 (Debian packages,
#      then the Go toolchain fetched as scripts/go-toolchain.sh does), the warnings-as-errors
#      build and the unit tests of scripts/test.sh's first step, and `go version` of the fetched
#      toolchain.
# The root is removed afterwards, also after a failure or Ctrl-C (mounts undone first).
# Needs root and debootstrap (installed if missing). FB_FRESH_ROOT=DIR keeps the root there.
# Usage: scripts/check-fresh-debian.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mirror=${FB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "check-fresh-debian: needs root (debootstrap, chroot)" >&2; exit 1; }
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
keep=${FB_FRESH_ROOT:-}
target=${keep:-$(mktemp -d /tmp/fb-fresh.XXXXXX)}
chmod 755 "$target"
mounts=()
cleanup() {
  local m i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[$i]}
    umount -l "$m" 2>/dev/null || true
  done
  [ -n "$keep" ] || rm -rf --one-file-system "$target"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
t0=$SECONDS

echo "check-fresh-debian: debootstrap bookworm (minbase) into $target"
debootstrap --variant=minbase bookworm "$target" "$mirror" >"$target.debootstrap.log" 2>&1 ||
  { tail -20 "$target.debootstrap.log" >&2; rm -f "$target.debootstrap.log"; exit 1; }
rm -f "$target.debootstrap.log"
for m in proc sys dev dev/pts; do
  mount --bind "/$m" "$target/$m"
  mounts+=("$target/$m")
done
cp /etc/resolv.conf "$target/etc/resolv.conf"
# the machine's own trust anchors (a TLS-inspecting egress proxy's CA, say), which a user's
# machine on the same network has too: ca-certificates, installed by install-deps, takes them in
mkdir -p "$target/usr/local/share/ca-certificates"
find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} \
  "$target/usr/local/share/ca-certificates/" \; 2>/dev/null || true

echo "check-fresh-debian: the repository, as committed plus the working tree's changes"
mkdir -p "$target/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do { [ -e "$f" ] || [ -L "$f" ]; } && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$target/src"

# sudo is not in a minimal root: install-deps runs as root and needs none
# a clean environment, but for what reaches the network as the user's shell does
proxies=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY GOPROXY GONOSUMDB GOPRIVATE; do
  if [ -n "${!v:-}" ]; then proxies+=("$v=${!v}"); fi
done
# shellcheck disable=SC2016 # the script expands inside the root, not here
chroot "$target" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  "${proxies[@]}" /bin/bash -euo pipefail -c '
cd /src
command -v go && { echo "a fresh root has no go"; exit 1; }
apt-get update -qq
FB_NEED_GO=1 scripts/install-deps.sh
go=$(scripts/go-toolchain.sh)
echo "go: $go: $(GOTOOLCHAIN=local "$go" version)"
cmake -S . -B build/release -G Ninja -DFB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build/release >/tmp/ninja.log 2>&1 || { grep -m5 -E "error|cannot find" /tmp/ninja.log; exit 1; }
ctest --test-dir build/release --output-on-failure -j "$(nproc)" -L unit | tail -3
'
echo "check-fresh-debian: passed in $((SECONDS - t0)) s (bare Debian 12: install-deps, Go fetched, build, unit tests)"
