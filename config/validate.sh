#!/usr/bin/env bash
# config/validate.sh KUBECONFIG
#
# Checks firebreak's CRDs and samples against a running API server:
#   1. server-side applies config/crds/*.yaml and waits until both CRDs are Established;
#   2. every config/samples/*.yaml must pass `kubectl apply --dry-run=server`;
#   3. every config/samples/invalid/*.yaml must be rejected, and the error must name the field
#      given by the file's "# expect-error: FIELD" line;
#   4. (FB_VALIDATE_STATUS=1, the default) the valid samples' status blocks are checked too: the
#      real CRDs have a status subresource, so the API server drops .status on create without
#      validating it. The script installs temporary copies of the CRDs under the group
#      validate.firebreak.dev without the subresource, dry-runs the samples against them, and
#      deletes them on exit.
# Nothing but the CRDs is persisted: every sample goes through --dry-run=server only.
#
# Prints PASS/FAIL per file; exits non-zero if anything failed.
#
# Environment:
#   KUBECTL                  kubectl binary (default: kubectl)
#   FB_VALIDATE_NAMESPACE    existing namespace namespaced samples are dry-run in (default: default)
#   FB_VALIDATE_STATUS       1 (default) to also validate sample status blocks, 0 to skip
#   FB_VALIDATE_TIMEOUT      seconds to wait for the CRDs to be Established and served (default: 60)
set -u -o pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 KUBECONFIG" >&2
	exit 2
fi
KCFG=$1
if [ ! -r "$KCFG" ]; then
	echo "$0: cannot read kubeconfig $KCFG" >&2
	exit 2
fi
KUBECTL=${KUBECTL:-kubectl}
NS=${FB_VALIDATE_NAMESPACE:-default}
CHECK_STATUS=${FB_VALIDATE_STATUS:-1}
TIMEOUT=${FB_VALIDATE_TIMEOUT:-60}
MANAGER=firebreak-config-validate
HERE=$(cd "$(dirname "$0")" && pwd)
CRDS=("$HERE/crds/firebreak.dev_evictionbudgets.yaml" "$HERE/crds/firebreak.dev_quarantines.yaml")
SHADOW_GROUP=validate.firebreak.dev

kc() { "$KUBECTL" --kubeconfig "$KCFG" "$@"; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/firebreak-validate.XXXXXX")
SHADOW_INSTALLED=0
cleanup() {
	if [ "$SHADOW_INSTALLED" = 1 ]; then
		kc delete --ignore-not-found --wait=false \
			"crd/evictionbudgets.$SHADOW_GROUP" "crd/quarantines.$SHADOW_GROUP" >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failed=0
out="" rc=0
pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; failed=1; }
rel() { case $1 in "$HERE"/*) printf '%s' "${1#"$HERE"/}" ;; *) printf 'temporary %s' "${1##*/}" ;; esac; }
indent() { sed 's/^/    /'; }

# Print the sample with metadata.namespace pointed at $NS (samples name namespaces that need not
# exist; a dry-run create in a missing namespace is refused), and optionally the group rewritten.
prepare() { # file group
	sed -e "s/^\(  namespace:\).*/\1 $NS/" \
		-e "s#^apiVersion: firebreak\.dev/#apiVersion: $2/#" "$1"
}

# kubectl apply --dry-run=server, retried while the API server does not serve the kind yet
# (a CRD is Established slightly before discovery and the REST mapping catch up).
dry_run() { # file -> output in $out, status in $rc
	local deadline=$((SECONDS + TIMEOUT))
	while :; do
		out=$(kc apply --dry-run=server --field-manager="$MANAGER" -f "$1" 2>&1)
		rc=$?
		if [ $rc -ne 0 ] && [ $SECONDS -lt $deadline ] &&
			grep -qE 'no matches for kind|ensure CRDs are installed|the server could not find the requested resource' <<<"$out"; then
			sleep 1
			continue
		fi
		return 0
	done
}

install_crds() { # label files...
	local label=$1 names=() f
	shift
	for f in "$@"; do
		if ! out=$(kc apply --server-side --force-conflicts --field-manager="$MANAGER" -f "$f" 2>&1); then
			fail "$label $(rel "$f")"
			indent <<<"$out"
			return 1
		fi
		names+=("crd/$(sed -n 's/^  name: \(.*\)$/\1/p' "$f" | head -n1)")
	done
	if ! out=$(kc wait --for=condition=Established --timeout="${TIMEOUT}s" "${names[@]}" 2>&1); then
		fail "$label not Established: ${names[*]}"
		indent <<<"$out"
		return 1
	fi
	for f in "$@"; do pass "$label $(rel "$f") (Established)"; done
}

# 1. The CRDs.
if ! install_crds crd "${CRDS[@]}"; then
	echo "FAILED: the CRDs were not accepted; samples not checked"
	exit 1
fi

# 2. Valid samples.
shopt -s nullglob
valid=("$HERE"/samples/*.yaml)
invalid=("$HERE"/samples/invalid/*.yaml)
if [ ${#valid[@]} -eq 0 ] || [ ${#invalid[@]} -eq 0 ]; then
	fail "no samples found under $HERE/samples"
fi
for f in "${valid[@]}"; do
	prepare "$f" firebreak.dev >"$TMP/sample.yaml"
	dry_run "$TMP/sample.yaml"
	if [ "$rc" -eq 0 ]; then
		pass "valid $(rel "$f")"
	else
		fail "valid $(rel "$f") was rejected:"
		indent <<<"$out"
	fi
done

# 3. Invalid samples: must be rejected, naming the expected field.
for f in "${invalid[@]}"; do
	want=$(sed -n 's/^# expect-error: *\([^ ]*\).*$/\1/p' "$f" | head -n1)
	if [ -z "$want" ]; then
		fail "invalid $(rel "$f") has no '# expect-error: FIELD' line"
		continue
	fi
	prepare "$f" firebreak.dev >"$TMP/sample.yaml"
	dry_run "$TMP/sample.yaml"
	if [ "$rc" -eq 0 ]; then
		fail "invalid $(rel "$f") was accepted (expected an error on $want)"
		indent <<<"$out"
	elif grep -qF -- "$want:" <<<"$out"; then
		pass "invalid $(rel "$f") rejected on $want"
	else
		fail "invalid $(rel "$f") rejected, but the error does not name $want:"
		indent <<<"$out"
	fi
done

# 4. Status blocks, through the temporary subresource-less copies of the CRDs.
if [ "$CHECK_STATUS" = 1 ]; then
	shadows=()
	shadow_ok=1
	for f in "${CRDS[@]}"; do
		s="$TMP/shadow-$(basename "$f")"
		# Another group, no status subresource, no short names or categories (so that
		# `kubectl get eb` and `kubectl get firebreak` stay unambiguous meanwhile).
		sed -e "s/^\(  name: [a-z]*\)\.firebreak\.dev$/\1.$SHADOW_GROUP/" \
			-e "s/^  group: firebreak\.dev$/  group: $SHADOW_GROUP/" \
			-e '/^    subresources:$/d' -e '/^      status: {}$/d' \
			-e '/^    shortNames:/d' -e '/^    categories:/d' "$f" >"$s"
		if ! grep -q "^  group: $SHADOW_GROUP$" "$s" || grep -q '^    subresources:' "$s"; then
			fail "status: could not derive a temporary CRD from $(rel "$f")"
			shadow_ok=0
		fi
		shadows+=("$s")
	done
	if [ $shadow_ok = 1 ]; then
		SHADOW_INSTALLED=1
		if install_crds status-crd "${shadows[@]}"; then
			for f in "${valid[@]}"; do
				grep -q '^status:' "$f" || continue
				prepare "$f" "$SHADOW_GROUP" >"$TMP/sample.yaml"
				dry_run "$TMP/sample.yaml"
				if [ "$rc" -eq 0 ]; then
					pass "status $(rel "$f")"
				else
					fail "status $(rel "$f") was rejected:"
					indent <<<"$out"
				fi
			done
		fi
	fi
fi

if [ $failed -ne 0 ]; then
	echo "FAILED"
	exit 1
fi
echo "all passed"
