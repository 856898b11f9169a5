#!/usr/bin/env bash
# Prints the path of a `go` command new enough for firebreak's Go parts (the e2e control plane,
# helm, promtool): the one on PATH or at /usr/local/go/bin when it is at least the `go` line of
# e2e/go.mod, else a toolchain fetched the way `go` itself fetches one (GOTOOLCHAIN): the module
# golang.org/toolchain@v0.0.1-go<version>.<os>-<arch> from the Go module proxies of $GOPROXY in
# turn (default https://proxy.golang.org; `direct` is https://go.dev/dl/mod, where the module's
# go-import tag points; `off` stops), its zip checked against the h1: hash pinned in
# scripts/go-toolchain.sum (the go.sum line of that module, as the checksum database serves it),
# then unpacked under $FB_GO_DIR (default ~/.cache/firebreak/go) and reused. Two set-ups at once
# wait for each other (flock on the directory's .lock).
#
#   scripts/go-toolchain.sh              the path of go (fetching it if needed)
#   scripts/go-toolchain.sh --self-test  fetch into a scratch directory with no go on PATH (past a
#                                        proxy that does not answer), run it, and check that a zip
#                                        with one byte changed is refused and GOPROXY=off fetches
#                                        nothing
# Needs curl, python3 (zip and hashes), coreutils. FB_GO_VERSION picks another pinned version.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sums=$root/scripts/go-toolchain.sum
version=${FB_GO_VERSION:-1.26.8}

die() { echo "go-toolchain: $*" >&2; exit 1; }

# min_go: the `go` line of e2e/go.mod (1.26.0).
min_go() { sed -n 's/^go \([0-9.]*\)$/\1/p' "$root/e2e/go.mod" | head -1; }

# at_least A B: version A >= B (dotted numbers).
at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

# the version a go binary reports ("go1.26.8" -> 1.26.8), or "" if it does not run
go_version() { "$1" env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9.]*\).*/\1/p'; }

platform() {
  local os arch
  os=$(uname -s | tr '[:upper:]' '[:lower:]')
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Go toolchain for $(uname -m)" ;;
  esac
  printf '%s-%s\n' "$os" "$arch"
}

# h1 ZIP: the module zip's dirhash (golang.org/x/mod/sumdb/dirhash Hash1), as go.sum has it.
h1() {
  python3 - "$1" <<'PY'
import base64, hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
lines = "".join("%s  %s\n" % (hashlib.sha256(z.read(n)).hexdigest(), n)
                for n in sorted(z.namelist()))
print("h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode())
PY
}

# verify ZIP MODULE@VERSION: its hash is the pinned one
verify() {
  local want got
  want=$(awk -v m="${2%@*}" -v v="${2#*@}" '$1 == m && $2 == v { print $3 }' "$sums")
  [ -n "$want" ] || die "no pinned checksum for $2 in $sums (add its go.sum line: \
go mod download -json $2 prints it as GoModSum/Sum)"
  got=$(h1 "$1") || die "$1 is not a zip"
  [ "$got" = "$want" ] || die "checksum mismatch for $2: got $got, want $want (pinned in $sums)"
}

# fetch DIR: the toolchain unpacked under DIR/go<version>; prints its go
fetch() {
  local dir=$1 mod ver proxy url dest tmp fetched=0
  mod=golang.org/toolchain
  ver=v0.0.1-go$version.$(platform)
  dest=$dir/go$version
  mkdir -p "$dir"
  # one fetch at a time per directory; the lock goes with the process
  exec 9>"$dir/.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [ -x "$dest/bin/go" ] && [ "$(go_version "$dest/bin/go")" = "$version" ]; then
    printf '%s\n' "$dest/bin/go"
    return 0
  fi
  tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
  # also when die exits the script; the trap runs after this function's locals are gone, so it
  # gets the path now, not the variable
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  local IFS=',|'
  for proxy in ${GOPROXY:-https://proxy.golang.org}; do
    case "$proxy" in
      off) break ;;
      direct) proxy=https://go.dev/dl/mod ;;
      http://* | https://*) ;;
      *) continue ;;
    esac
    url=${proxy%/}/$mod/@v/$ver.zip
    echo "go-toolchain: fetching go$version from $url" >&2
    if curl -fsSL --retry 3 -o "$tmp/t.zip" "$url"; then
      fetched=1
      break
    fi
    echo "go-toolchain: cannot fetch $url" >&2
  done
  unset IFS
  [ "$fetched" = 1 ] || { rm -rf "$tmp"; die "no proxy of GOPROXY=${GOPROXY:-https://proxy.golang.org} served go$version"; }
  verify "$tmp/t.zip" "$mod@$ver" || { rm -rf "$tmp"; exit 1; }
  python3 - "$tmp/t.zip" "$tmp/x" "$mod@$ver/" <<'PY'
import os, sys, zipfile
zf, out, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(zf) as z:
    for i in z.infolist():
        if not i.filename.startswith(prefix) or ".." in i.filename.split("/"):
            sys.exit("unexpected path in the zip: " + i.filename)
        path = os.path.join(out, i.filename[len(prefix):])
        if i.is_dir():
            os.makedirs(path, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with z.open(i) as src, open(path, "wb") as dst:
            dst.write(src.read())
        os.chmod(path, 0o755 if (i.external_attr >> 16) & 0o111 else 0o644)
PY
  rm -rf "$dest"
  mv "$tmp/x" "$dest"
  [ -z "${FB_GO_KEEP_ZIP:-}" ] || mv "$tmp/t.zip" "$dir/go$version.zip"
  rm -rf "$tmp"
  trap - EXIT
  [ "$(go_version "$dest/bin/go")" = "$version" ] || die "the fetched go does not run"
  printf '%s\n' "$dest/bin/go"
}

self_test() {
  local scratch go
  scratch=$(mktemp -d)
  # shellcheck disable=SC2064 # the path now: the local is gone when the trap runs
  trap "rm -rf '$scratch'" EXIT
  # no go anywhere: PATH with the basics only, /usr/local/go not consulted
  # GOPROXY=off fetches nothing
  if PATH=/usr/bin:/bin FB_GO_DIR="$scratch/off" FB_GO_NO_LOCAL=1 GOPROXY=off "$0" >/dev/null 2>&1; then
    die "self-test: GOPROXY=off fetched a toolchain"
  fi
  # a first proxy that does not answer: the next one serves it
  go=$(PATH=/usr/bin:/bin FB_GO_DIR="$scratch" FB_GO_NO_LOCAL=1 FB_GO_KEEP_ZIP=1 \
    GOPROXY="http://127.0.0.1:9,${GOPROXY:-https://proxy.golang.org}" "$0") ||
    die "self-test: no go fetched"
  [ "$go" = "$scratch/go$version/bin/go" ] || die "self-test: got $go, not the fetched one"
  GOTOOLCHAIN=local "$go" version >&2 || die "self-test: the fetched go does not run"
  # the same zip passes the check again; with one byte changed it is refused
  local zip=$scratch/go$version.zip mod
  mod=golang.org/toolchain@v0.0.1-go$version.$(platform)
  (verify "$zip" "$mod") || die "self-test: the fetched zip no longer passes"
  python3 - "$zip" <<'PY'
import sys, zipfile
src = sys.argv[1]
z = zipfile.ZipFile(src)
items = [(i, z.read(i.filename)) for i in z.infolist()]
z.close()
with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as out:
    for n, (i, data) in enumerate(items):
        if i.filename.endswith("/VERSION"):
            data = data[:-1] + bytes([data[-1] ^ 1])
        out.writestr(i, data)
PY
  if (verify "$zip" "$mod") 2>/dev/null; then die "self-test: a changed zip passed the check"; fi
  echo "go-toolchain: self-test passed (go$version fetched, run, and a changed zip refused)" >&2
}

[ "${1:-}" = --self-test ] && { self_test; exit 0; }

min=$(min_go)
for cand in "$(command -v go || true)" /usr/local/go/bin/go; do
  if [ -z "$cand" ] || [ ! -x "$cand" ]; then continue; fi
  [ -n "${FB_GO_NO_LOCAL:-}" ] && [ "$cand" = /usr/local/go/bin/go ] && continue
  have=$(go_version "$cand")
  if [ -n "$have" ] && at_least "$have" "$min"; then
    printf '%s\n' "$cand"
    exit 0
  fi
  [ -n "$have" ] && echo "go-toolchain: $cand is go$have, older than go$min" >&2
done
fetch "${FB_GO_DIR:-$HOME/.cache/firebreak/go}"
