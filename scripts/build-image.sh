#!/usr/bin/env bash
# Builds firebreak's container image from deploy/Dockerfile, as written, with buildah, and checks
# that it runs, without a registry or a Docker engine:
#   1. the Dockerfile's FROM images (debian:bookworm, debian:bookworm-slim) are made locally with
#      debootstrap (Debian's mirror), once, and kept in buildah's storage under those names: a
#      stand-in for the public images, which no registry here serves. The slim one drops what
#      the public slim image drops (docs, man pages, locales; dpkg's path-excludes).
#   2. buildah bud --pull=never -f deploy/Dockerfile (layers cached between runs);
#   3. the image's config runs firebreak as 65532:65532 from /usr/local/bin/firebreak, and the
#      binary starts in the image as that user with no capabilities (`firebreak --version`):
#      a library the runtime stage lacks fails here, not on a node;
#   4. --out FILE: the image as a docker-archive (its name inside), for `ctr images import`.
# Usage: scripts/build-image.sh [--tag TAG] [--out FILE] [--file DOCKERFILE] [--no-tests]
#   --tag     image name (default localhost/firebreak:<the chart's appVersion>, the chart's
#             default image.repository and tag)
#   --no-tests  the build stage skips its ctest run (FB_RUN_TESTS=0)
#   --self-test  builds two broken Dockerfiles (a runtime library left out, a COPY of a path that
#             does not exist) and fails unless each fails the build with the expected error.
# Needs root, buildah and debootstrap (installed if missing). FB_DEBIAN_MIRROR picks the mirror.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mirror=${FB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/firebreak/Chart.yaml")
tag=localhost/firebreak:$app_version
out=""
dockerfile=$root/deploy/Dockerfile
run_tests=1

die() { echo "build-image: $*" >&2; exit 1; }
say() { echo "build-image: $*" >&2; }

ensure_tools() {
  [ "$(id -u)" -eq 0 ] || die "needs root (buildah's storage, debootstrap)"
  local missing=()
  command -v buildah >/dev/null || missing+=(buildah)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  # buildah runs a Dockerfile's RUN steps through an OCI runtime, which it only recommends:
  # without one (--no-install-recommends on a fresh machine) RUN fails with "exec: no command"
  command -v runc >/dev/null || command -v crun >/dev/null || missing+=(runc)
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# base_image NAME SLIM: NAME made from a debootstrap root unless buildah has it (label
# firebreak.dev/local-base says it is ours; a pulled image of that name is left alone)
base_image() {
  local name=$1 slim=$2 dir ctr mnt
  if buildah inspect --type image "$name" >/dev/null 2>&1; then
    [ -n "$(buildah inspect --type image --format '{{index .ImageAnnotations "firebreak.dev/local-base"}}' "$name" 2>/dev/null)" ] ||
      say "$name exists and is not a local stand-in: using it as it is"
    return 0
  fi
  dir=$(mktemp -d /tmp/fb-base.XXXXXX)
  # shellcheck disable=SC2064 # the path now: the local is gone when the trap runs
  trap "rm -rf --one-file-system '$dir'" EXIT
  say "making $name with debootstrap --variant=minbase bookworm ($mirror)"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 ||
    { tail -20 "$dir.log" >&2; rm -f "$dir.log"; die "debootstrap failed"; }
  rm -f "$dir.log"
  if [ "$slim" = 1 ]; then
    # what the public slim image leaves out (debuerreotype's slimify), so that packages installed
    # later leave it out too
    mkdir -p "$dir/etc/dpkg/dpkg.cfg.d"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/locale/*' \
      'path-exclude /usr/share/info/*' >"$dir/etc/dpkg/dpkg.cfg.d/docker"
    find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$dir/usr/share/man/"* "$dir/usr/share/locale/"* "$dir/usr/share/info/"*
  fi
  rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"*
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  tar -C "$dir" -cf - . | tar -C "$mnt" -xf -
  buildah umount "$ctr" >/dev/null
  buildah config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --annotation "firebreak.dev/local-base=debootstrap bookworm $mirror" "$ctr"
  buildah commit --rm -q "$ctr" "$name" >/dev/null
  rm -rf --one-file-system "$dir"
  trap - EXIT
  say "$name made"
}

# build DOCKERFILE TAG: buildah bud, then the image's checks; the output in $log. Callers test
# its status (so errexit is off inside): every step says its own failure.
build() {
  local file=$1 name=$2 ctr user entry
  buildah bud --pull=never --network host --layers -q -f "$file" \
    --build-arg "FB_RUN_TESTS=$run_tests" -t "$name" "$root" >"$log" 2>&1 ||
    { grep -E 'error|Error|cannot find|No such|not found' "$log" | tail -5 >&2; return 1; }
  user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$name") ||
    { echo "cannot inspect the image $name" >&2; return 1; }
  entry=$(buildah inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$name") ||
    { echo "cannot inspect the image $name" >&2; return 1; }
  [ "$user" = 65532:65532 ] || { echo "the image runs as '$user', not 65532:65532" >&2; return 1; }
  [ "$entry" = '[/usr/local/bin/firebreak]' ] || { echo "the image's entrypoint is $entry" >&2; return 1; }
  ctr=$(buildah from --pull=never "$name") || { echo "cannot make a container of $name" >&2; return 1; }
  if ! buildah run --user 65532:65532 --cap-drop all --network none "$ctr" -- \
    /usr/local/bin/firebreak --version >>"$log" 2>&1; then
    tail -3 "$log" >&2
    buildah rm "$ctr" >/dev/null
    echo "firebreak does not start in the image" >&2
    return 1
  fi
  buildah rm "$ctr" >/dev/null
}

# expect_broken NAME SED PATTERN: the Dockerfile edited by SED must fail to build or start with
# an error matching PATTERN
expect_broken() {
  local what=$1 edit=$2 want=$3 file err
  file=$(mktemp "$root/deploy/.Dockerfile.broken.XXXXXX")
  # shellcheck disable=SC2064 # the path now: the local is gone when the trap runs
  trap "rm -f '$file'" EXIT
  sed "$edit" "$dockerfile" >"$file"
  cmp -s "$file" "$dockerfile" && { rm -f "$file"; die "self-test: '$edit' changed nothing in $dockerfile"; }
  err=$(build "$file" localhost/firebreak-broken:test 2>&1) && {
    rm -f "$file"
    die "self-test: the Dockerfile with $what built and ran"
  }
  rm -f "$file"
  trap - EXIT
  buildah rmi -f localhost/firebreak-broken:test >/dev/null 2>&1 || true
  grep -qE -- "$want" <<<"$err$(cat "$log")" || {
    printf '%s\n' "$err" >&2
    die "self-test: the Dockerfile with $what failed, but not with /$want/"
  }
  say "self-test: with $what the build fails ($(grep -m1 -oE -- "$want" <<<"$err$(cat "$log")"))"
}

self_test=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --file) dockerfile=$2; shift 2 ;;
    --no-tests) run_tests=0; shift ;;
    --self-test) self_test=1; shift ;;
    *) die "unknown argument $1 (see the header of $0)" ;;
  esac
done
ensure_tools
t0=$SECONDS
base_image docker.io/library/debian:bookworm 0
base_image docker.io/library/debian:bookworm-slim 1
mkdir -p "$root/build/image"
log=$root/build/image/build.log

if [ "$self_test" = 1 ]; then
  run_tests=0
  expect_broken "libcyaml1 left out of the runtime stage" \
    '/^FROM debian:bookworm-slim/,$ s/ libcyaml1 / /' 'libcyaml\.so[^:]*: cannot open shared object file'
  expect_broken "a COPY of a path that does not exist" \
    's|COPY --from=build /out/firebreak |COPY --from=build /out/firebreak-renamed |' \
    '"/out/firebreak-renamed": no such file'
  say "self-test passed in $((SECONDS - t0)) s"
  exit 0
fi

say "building $tag from ${dockerfile#"$root"/} (log: ${log#"$root"/})"
build "$dockerfile" "$tag" || die "the image did not build or does not run (log: $log)"
say "$tag built; $(tail -1 "$log"); runs as 65532:65532"
if [ -n "$out" ]; then
  rm -f "$out"
  buildah push -q "$tag" "docker-archive:$out:$tag" >/dev/null
  say "saved as $out ($(du -h "$out" | cut -f1))"
fi
say "done in $((SECONDS - t0)) s"
