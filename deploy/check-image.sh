#!/usr/bin/env bash
# Checks deploy/Dockerfile without a container engine (exit 0 = all good):
#   1. the runtime stage installs a package for every shared library the firebreak binary links:
#      each library of `ldd` is mapped to its Debian package (dpkg -S) and must be one the
#      runtime stage installs, one those packages depend on (apt-cache depends --recurse), or
#      one debian:bookworm-slim already has (Essential/Priority required, e.g. libc6);
#      each library the binary links directly (readelf NEEDED) must come from a package the
#      stage names explicitly;
#   2. the build stage installs the build packages scripts/install-deps.sh installs, and runs
#      the same configure/build/test commands as scripts/test.sh (step 1);
#   3. both stages are Debian 12 (bookworm), the runtime runs as 65532 with firebreak as
#      ENTRYPOINT.
# With --build it first runs the build stage's cmake/ninja commands here, niced, into
# build/image/ (the host must be Debian 12 with scripts/install-deps.sh's packages, as CI is)
# and checks that binary; otherwise it checks build/release/controller/firebreak (FB_BINARY=...).
# Usage: deploy/check-image.sh [--build]
set -euo pipefail
cd "$(dirname "$0")/.."
dockerfile=${FB_DOCKERFILE:-deploy/Dockerfile}
failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }

# ---- the Dockerfile's stages ------------------------------------------------------------
stage() { # NAME -> the lines of that stage, continuation lines joined
  awk -v want="$1" '
    /^FROM / { cur = ($0 ~ (" AS " want "$")) }
    cur { print }' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta'
}
# in_list WORD ITEM...: WORD is one of the items. (Not `printf | grep -q`: under pipefail,
# grep -q leaving early can SIGPIPE printf and turn a match into a failure.)
in_list() {
  local w="$1" i
  shift
  for i in "$@"; do [ "$i" = "$w" ] && return 0; done
  return 1
}
apt_packages() { # stage text on stdin -> the packages of its apt-get install
  grep -o 'apt-get install[^&]*' | tr ' ' '\n' | grep -v -e '^-' -e '^$' -e '^apt-get$' -e '^install$' | sort -u
}
build_stage=$(stage build)
runtime_stage=$(stage runtime)
if [ -z "$build_stage" ] || [ -z "$runtime_stage" ]; then
  echo "check-image: stages 'build' and 'runtime' not found in $dockerfile" >&2
  exit 1
fi
mapfile -t runtime_pkgs < <(apt_packages <<<"$runtime_stage")
mapfile -t build_pkgs < <(apt_packages <<<"$build_stage")
echo "runtime stage installs: ${runtime_pkgs[*]}"
echo "build stage installs:   ${build_pkgs[*]}"

if grep -q '^FROM debian:bookworm AS build$' "$dockerfile" && grep -q '^FROM debian:bookworm-slim AS runtime$' "$dockerfile"; then
  pass "stages: debian:bookworm (build), debian:bookworm-slim (runtime)"
else
  fail "stages are not bookworm / bookworm-slim"
fi
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || echo "note: this host is ${PRETTY_NAME:-unknown}, not Debian 12: the package mapping below is only indicative"
if grep -q '^USER 65532:65532$' <<<"$runtime_stage"; then pass "runtime runs as 65532:65532"; else fail "runtime USER is not 65532:65532"; fi
if grep -q '^ENTRYPOINT \["/usr/local/bin/firebreak"\]$' <<<"$runtime_stage"; then pass "ENTRYPOINT firebreak"; else fail "ENTRYPOINT is not /usr/local/bin/firebreak"; fi

# ---- build stage == CI -------------------------------------------------------------------
mapfile -t deps_pkgs < <(sed -n '/^pkgs=(/,/^)/p' scripts/install-deps.sh | tr ' ' '\n' | grep -v -e '^pkgs=(' -e '^)' -e '^$')
# what the build needs of install-deps.sh: compilers and build tools and the -dev packages;
# not what only tests/CI tooling use (clang/libclang-rt for fuzzing, valgrind, git, openssl,
# python3/python3-yaml/shellcheck for the chart checks, curl for the e2e scenarios)
missing=()
for p in "${deps_pkgs[@]}"; do
  case "$p" in clang|libclang-rt-*|valgrind|git|openssl|python3|python3-yaml|shellcheck|curl) continue ;; esac
  in_list "$p" "${build_pkgs[@]}" || missing+=("$p")
done
for p in "${build_pkgs[@]}"; do
  in_list "$p" "${deps_pkgs[@]}" || missing+=("$p (not in install-deps.sh)")
done
if ((${#missing[@]})); then fail "build stage packages differ from scripts/install-deps.sh: ${missing[*]}"
else pass "build stage installs install-deps.sh's build packages"; fi
for cmd in 'cmake -S . -B build/release -G Ninja -DFB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo' \
           'ninja -C build/release' 'ctest --test-dir build/release --output-on-failure -j'; do
  if grep -qF -- "$cmd" scripts/test.sh && grep -qF -- "$cmd" <<<"$build_stage"; then
    pass "build stage runs CI's: $cmd"
  else
    fail "build stage and scripts/test.sh differ on: $cmd"
  fi
done

# ---- the binary ----------------------------------------------------------------------------
bin=${FB_BINARY:-build/release/controller/firebreak}
if [ "${1:-}" = --build ]; then
  # the build stage's commands, verbatim apart from the build directory
  cmd=$(grep -o 'cmake -S \. -B build/release[^&]*' <<<"$build_stage" | sed 's#build/release#build/image#')
  echo "+ $cmd"
  eval "nice -n 19 $cmd" >/dev/null
  echo "+ nice ninja -C build/image controller/firebreak"
  nice -n 19 ninja -j "${FB_BUILD_JOBS:-$(nproc)}" -C build/image controller/firebreak | tail -1
  bin=build/image/controller/firebreak
  "$bin" --version
fi
if [ ! -x "$bin" ]; then
  echo "check-image: $bin not built (cmake -S . -B build/release -G Ninja && ninja -C build/release, or --build)" >&2
  exit 1
fi
if ! command -v dpkg >/dev/null || ! command -v apt-cache >/dev/null; then
  echo "check-image: needs dpkg and apt-cache" >&2
  exit 1
fi

deps_closure() { # PACKAGE... -> names of the packages and everything they (pre-)depend on
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" 2>/dev/null | grep -v '^ ' | grep -v '^<' | sed 's/:.*//' | sort -u
}
closure=$(deps_closure "${runtime_pkgs[@]}")
# debian:bookworm-slim = the Essential and Priority required packages and their dependencies
mapfile -t base_roots < <(dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' |
                          awk '$2 == "yes" || $3 == "required" { print $1 }')
base=$(deps_closure "${base_roots[@]}")
# every library ldd resolves, and its package (one dpkg -S for all)
ldd_out=$(ldd "$bin" | awk '/=>/ && $3 ~ /^\// { print $1, $3 } !/=>/ && $1 ~ /^\// { print $1, $1 }')
mapfile -t paths < <(awk '{ print $2 }' <<<"$ldd_out")
mapfile -t real < <(for f in "${paths[@]}"; do readlink -f "$f"; done)
owners=$(dpkg -S "${paths[@]}" "${real[@]}" 2>/dev/null | sed 's/^\([^:,]*\)[^ ]* \(.*\)$/\2 \1/' || true)
pkg_of() { # PATH -> package
  local p
  p=$(awk -v f="$1" '$1 == f { print $2; exit }' <<<"$owners")
  [ -n "$p" ] || p=$(awk -v f="$(readlink -f "$1")" '$1 == f { print $2; exit }' <<<"$owners")
  printf '%s\n' "$p"
}
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "binary: $bin"
echo "links directly: $(tr '\n' ' ' <<<"$needed")"
printf '%-28s %-22s %s\n' library package "how it gets into the runtime image"
linked_pkgs=""
lib_fail=0
while read -r lib path; do
  [ -n "$path" ] || continue
  pkg=$(pkg_of "$path")
  linked_pkgs+="$pkg"$'\n'
  direct=0
  grep -qx "$lib" <<<"$needed" && direct=1
  if [ -z "$pkg" ]; then
    how="NO PACKAGE FOUND"; fail "$lib ($path) belongs to no package"; lib_fail=1
  elif in_list "$pkg" "${runtime_pkgs[@]}"; then
    how="installed by the runtime stage"
  elif grep -qx "$pkg" <<<"$base"; then
    how="in debian:bookworm-slim (essential/required + deps)"
  elif ((direct)); then
    how="NOT NAMED (linked directly)"; fail "$lib is linked directly; name $pkg in the runtime stage"; lib_fail=1
  elif grep -qx "$pkg" <<<"$closure"; then
    how="dependency of the runtime packages"
  else
    how="MISSING"; fail "$lib ($pkg) is neither installed nor a dependency of the runtime packages"; lib_fail=1
  fi
  printf '%-28s %-22s %s\n' "$lib" "$pkg" "$how"
done <<<"$ldd_out"
# every runtime package is needed (ca-certificates: TLS to the API server)
for p in "${runtime_pkgs[@]}"; do
  [ "$p" = ca-certificates ] && continue
  grep -qx "$p" <<<"$linked_pkgs" || { fail "runtime stage installs $p, which the binary does not link"; lib_fail=1; }
done
[ "$lib_fail" -eq 0 ] && pass "all $(wc -l <<<"$ldd_out") libraries of $bin are in the runtime image; every runtime package is used"

if [ "$failures" -eq 0 ]; then
  echo "check-image: all checks passed"
else
  echo "check-image: $failures check(s) failed"
  exit 1
fi
