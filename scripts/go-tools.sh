#!/usr/bin/env bash
# Sourced by scripts/check-chart.sh, scripts/check-monitoring.sh and scripts/chart-e2e.sh:
# builds helm and promtool from the Go module proxy into build/tools/ once, and reuses them.
#   fb_tool helm      -> prints the path of a helm binary (builds it if missing)
#   fb_tool promtool  -> the same for promtool
# Pinned versions: their go.mod `go` lines are 1.26.0 (helm v3.22.0) and 1.26.7 (prometheus
# v0.316.0 = Prometheus 3.x), so go1.26 builds them with GOTOOLCHAIN=local.
# promtool is built with -tags remove_all_sd: the service-discovery plugins are not needed to
# check rules, and one of them (nomad) pins a module version the proxy no longer serves.
# HELM=/path or PROMTOOL=/path use an existing binary instead.

FB_HELM_VERSION=${FB_HELM_VERSION:-v3.22.0}
FB_PROMTOOL_VERSION=${FB_PROMTOOL_VERSION:-v0.316.0}

fb_tool() { # NAME
  local name=$1 root tools pkg ver tags="" bin stamp
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  tools=${FB_TOOLS_DIR:-$root/build/tools}
  case "$name" in
    helm)
      if [ -n "${HELM:-}" ]; then printf '%s\n' "$HELM"; return 0; fi
      pkg=helm.sh/helm/v3/cmd/helm; ver=$FB_HELM_VERSION ;;
    promtool)
      if [ -n "${PROMTOOL:-}" ]; then printf '%s\n' "$PROMTOOL"; return 0; fi
      pkg=github.com/prometheus/prometheus/cmd/promtool; ver=$FB_PROMTOOL_VERSION
      tags=remove_all_sd ;;
    *) echo "fb_tool: unknown tool $name" >&2; return 2 ;;
  esac
  bin=$tools/$name
  stamp=$tools/.$name.version
  if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$ver" ]; then
    printf '%s\n' "$bin"
    return 0
  fi
  local go
  go=$(command -v go || true)
  [ -n "$go" ] || go=/usr/local/go/bin/go
  if [ ! -x "$go" ]; then
    echo "fb_tool: Go is needed to build $name (expected on PATH or /usr/local/go)" >&2
    return 1
  fi
  mkdir -p "$tools"
  echo "fb_tool: building $name $ver from the Go module proxy (once; cached in $tools)" >&2
  # nice: CI machines are small and other jobs may be timing-sensitive
  if ! GOTOOLCHAIN=local GOBIN=$tools GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
      nice -n 19 "$go" install ${tags:+-tags "$tags"} "$pkg@$ver" >"$tools/$name-build.log" 2>&1; then
    tail -20 "$tools/$name-build.log" >&2
    echo "fb_tool: building $name failed (log: $tools/$name-build.log)" >&2
    return 1
  fi
  printf '%s\n' "$pkg@$ver" >"$stamp"
  printf '%s\n' "$bin"
}
