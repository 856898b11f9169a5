#!/usr/bin/env bash
# Server-side validation of the Helm chart on a running cluster, and a kubeconfig that carries
# exactly the chart's RBAC, for running firebreak with it.
#
#   scripts/chart-e2e.sh KUBECONFIG            install/refresh and check (exit 0 = all good)
#   scripts/chart-e2e.sh KUBECONFIG --uninstall remove what it created (CRDs are kept)
#
# Steps:
#   1. helm template (CRDs included) with the chart's defaults, except replicaCount
#      (FB_CHART_REPLICAS, default 0: the Deployment is validated and stored, but no pod is
#      created, so a shared test cluster's scenarios see no extra pods; set 2 to create them);
#   2. CRDs: server-side dry run, then server-side apply, then wait until Established;
#   3. the namespace, then every other object: server-side dry run, then server-side apply;
#      read back the Deployment, ClusterRole, Role, bindings, PDB, Service, ConfigMap;
#   4. RBAC as the API server sees it: `kubectl auth can-i --as=<the ServiceAccount>` for every
#      row of the table in docs/operations.md (must be yes; rows limited to a name are asked for
#      that name: the Lease, the webhook's Secret, the webhook configuration; the `node` rows,
#      firebreak-node's ServiceAccount's, are e2e agent-chart's) and for a list of things
#      firebreak must not be able to do (must be no);
#   5. a TokenRequest token for the chart's ServiceAccount (`kubectl create token`), and a
#      kubeconfig that uses it, with the namespace set to the release namespace (the Lease's);
#   6. if build/release/controller/firebreak exists: `firebreak --exit-after-sync` with that
#      kubeconfig and the chart's settings file (lists and watches nodes, pods, EvictionBudgets,
#      Quarantines with the chart's permissions; read-only, the webhook off). FB_CHART_RUN=0
#      skips it.
#
# Output in FB_CHART_OUT (default build/chart-e2e/): rendered.yaml, firebreak.yaml (the chart's
# settings file), firebreak-sa.kubeconfig, token (0600).
# Environment: FB_CHART_NAMESPACE (firebreak-system), FB_CHART_RELEASE (firebreak),
# FB_CHART_REPLICAS (0), FB_TOKEN_DURATION (24h), KUBECTL (kubectl on PATH, else e2e/bin/kubectl:
# `e2e/build.sh kubectl` builds one), HELM (else built from the Go module proxy, cached).
# It never starts or stops a cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=scripts/go-tools.sh
. scripts/go-tools.sh
export PATH="$PATH:/usr/local/go/bin"

if [ $# -lt 1 ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
kubeconfig=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -r "$kubeconfig" ] || { echo "chart-e2e: cannot read kubeconfig $1" >&2; exit 2; }
mode=${2:-install}

ns=${FB_CHART_NAMESPACE:-firebreak-system}
release=${FB_CHART_RELEASE:-firebreak}
replicas=${FB_CHART_REPLICAS:-0}
out=${FB_CHART_OUT:-$root/build/chart-e2e}
manager=firebreak-chart-e2e
kubectl=${KUBECTL:-}
if [ -z "$kubectl" ]; then
  if command -v kubectl >/dev/null; then kubectl=$(command -v kubectl)
  elif [ -x e2e/bin/kubectl ]; then kubectl=$root/e2e/bin/kubectl
  else
    echo "chart-e2e: kubectl not found (set KUBECTL, or build one: e2e/build.sh kubectl)" >&2
    exit 2
  fi
fi
k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }
failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }
step() { printf '\n==== %s\n' "$*"; }

helm=$(fb_tool helm)
mkdir -p "$out"
chmod 700 "$out"

server_version=$(k version -o json | python3 -c 'import json,sys; v=json.load(sys.stdin)["serverVersion"]; print(v["gitVersion"])')
echo "cluster: $(k config view --minify -o jsonpath='{.clusters[0].cluster.server}') (Kubernetes $server_version)"

step "render the chart"
"$helm" template "$release" charts/firebreak --namespace "$ns" --include-crds \
  --kube-version "${server_version#v}" --set replicaCount="$replicas" >"$out/rendered.yaml"
python3 - "$out" <<'PY'
import sys, yaml
out = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(out + "/rendered.yaml")) if d]
crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
rest = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
yaml.safe_dump_all(crds, open(out + "/crds.yaml", "w"), sort_keys=False)
yaml.safe_dump_all(rest, open(out + "/objects.yaml", "w"), sort_keys=False)
cm = [d for d in docs if d["kind"] == "ConfigMap"][0]
open(out + "/firebreak.yaml", "w").write(cm["data"]["firebreak.yaml"])
sa = [d for d in docs if d["kind"] == "ServiceAccount"][0]["metadata"]["name"]
open(out + "/serviceaccount", "w").write(sa + "\n")
# the names the RBAC is limited to: the webhook's Secret and configuration
args = [d for d in docs if d["kind"] == "Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["args"]
secret = [a.split("=", 1)[1] for a in args if a.startswith("--webhook-secret=")][0]
mwc = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"][0]["metadata"]["name"]
open(out + "/webhook-names", "w").write("%s %s\n" % (secret, mwc))
print("%d CRDs, %d objects: %s" % (len(crds), len(rest), ", ".join(sorted({d["kind"] for d in rest}))))
PY
sa=$(cat "$out/serviceaccount")
subject=system:serviceaccount:$ns:$sa
read -r secret mwc <"$out/webhook-names"

if [ "$mode" = --uninstall ]; then
  step "uninstall (CRDs kept: deleting them would delete every EvictionBudget and Quarantine)"
  k delete -f "$out/objects.yaml" --ignore-not-found --wait=false
  k delete namespace "$ns" --ignore-not-found --wait=false
  rm -f "$out/token" "$out/firebreak-sa.kubeconfig"
  exit 0
fi

step "CRDs: server-side dry run, then apply"
if k apply --server-side --field-manager="$manager" --dry-run=server -f "$out/crds.yaml"; then
  pass "CRDs accepted (dry run)"
else
  fail "CRDs rejected (dry run)"
fi
if k apply --server-side --field-manager="$manager" -f "$out/crds.yaml" &&
   k wait --for=condition=Established --timeout=60s \
     crd/evictionbudgets.firebreak.dev crd/quarantines.firebreak.dev; then
  pass "CRDs applied and Established"
else
  fail "CRDs not applied"
fi

step "namespace $ns"
k create namespace "$ns" --dry-run=client -o yaml | k apply --server-side --field-manager="$manager" -f -

step "chart objects: server-side dry run, then apply"
if k apply --server-side --field-manager="$manager" --dry-run=server -f "$out/objects.yaml"; then
  pass "objects accepted (dry run)"
else
  fail "objects rejected (dry run)"
fi
if k apply --server-side --field-manager="$manager" -f "$out/objects.yaml"; then
  pass "objects applied"
else
  fail "objects not applied"
fi
if k -n "$ns" get deployment,serviceaccount,configmap,service,poddisruptionbudget,role,rolebinding \
     -l app.kubernetes.io/instance="$release" -o name &&
   k get clusterrole,clusterrolebinding,mutatingwebhookconfiguration -l app.kubernetes.io/instance="$release" -o name; then
  pass "objects read back"
else
  fail "objects not found"
fi
k -n "$ns" get deployment -l app.kubernetes.io/instance="$release" \
  -o jsonpath='{range .items[*]}{.metadata.name}: replicas={.spec.replicas} priorityClass={.spec.template.spec.priorityClassName} observedGeneration={.status.observedGeneration}{"\n"}{end}'

step "RBAC as the API server sees it ($subject)"
# every row of the table in docs/operations.md must be allowed (the chart's defaults: webhook on,
# certificates self-managed)
python3 - docs/operations.md "$ns" "$secret" "$mwc" <<'PY' >"$out/can-i.txt"
import re, sys
text, ns, secret, mwc = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], sys.argv[4]
names = {"the Lease's": "firebreak", "the Secret's": secret, "the webhook configuration's": mwc,
         "the Deployment's": "firebreak"}
m = re.search(r"<!-- rbac-table:begin -->(.*?)<!-- rbac-table:end -->", text, re.S)
for line in m.group(1).strip().splitlines()[2:]:
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    # node rows are firebreak-node's own ServiceAccount's (node.enabled), not the controller's:
    # e2e agent-chart asks the API server for them with the agent's token
    if c[0] in ("node", "nodeStop"):
        continue
    group = c[1].strip("`"); group = "" if group == '""' else group
    mm = re.match(r"`([^`]+)`(?: \(name: (the [^)]+)\))?", c[2])
    res = mm.group(1)
    verb = c[3].strip("`")
    base, _, sub = res.partition("/")
    r = base + ("." + group if group else "")
    name = names[mm.group(2)] if mm.group(2) else "-"
    # lease: the Lease's namespace (the release namespace here); secret: the release namespace
    where = ns if c[0] in ("lease", "secret", "secretSelf", "restore") else "ANY"
    # scaleToZero rows: granted only with rbac.scaleToZero=true; restore rows: only with
    # managed.enabled (the uninstall hook's Role); refused with the defaults
    answer = "no" if c[0] in ("scaleToZero", "restore") else "yes"
    print("%s %s %s %s %s %s" % (answer, verb, r, sub or "-", where, name))
PY
# ... and these must be refused
# columns: answer verb resource subresource namespace|ANY name ("-" = none)
cat >>"$out/can-i.txt" <<EOF
no get secrets - ANY -
no list secrets - ANY -
no get configmaps - ANY -
no create pods - ANY -
no update pods - ANY -
no update pods status ANY -
no patch pods ephemeralcontainers ANY -
no patch pods resize ANY -
no delete nodes - ANY -
no create nodes - ANY -
no patch nodes status ANY -
no list deployments.apps - ANY -
no update deployments.apps - ANY -
no delete deployments.apps - ANY -
no get deployments.apps scale ANY -
no update deployments.apps scale ANY -
no update statefulsets.apps scale ANY -
no delete statefulsets.apps - ANY -
no patch daemonsets.apps - ANY -
no patch jobs.batch - ANY -
no patch cronjobs.batch - ANY -
no delete evictionbudgets.firebreak.dev - ANY -
no update evictionbudgets.firebreak.dev - ANY -
no create evictionbudgets.firebreak.dev - ANY -
no delete quarantines.firebreak.dev - ANY -
no update quarantines.firebreak.dev - ANY -
no create events - ANY -
no list events - ANY -
no list leases.coordination.k8s.io - $ns -
no create leases.coordination.k8s.io - default -
no update leases.coordination.k8s.io - kube-node-lease -
no update leases.coordination.k8s.io - $ns other-lease
no delete leases.coordination.k8s.io - $ns firebreak
no list secrets - $ns -
no get secrets - $ns other-secret
no update secrets - $ns other-secret
no patch secrets - $ns $secret
no delete secrets - $ns $secret
no get secrets - default $secret
no create secrets - default -
no create mutatingwebhookconfigurations.admissionregistration.k8s.io - ANY -
no list mutatingwebhookconfigurations.admissionregistration.k8s.io - ANY -
no patch mutatingwebhookconfigurations.admissionregistration.k8s.io - ANY other-webhook
no update mutatingwebhookconfigurations.admissionregistration.k8s.io - ANY $mwc
no delete mutatingwebhookconfigurations.admissionregistration.k8s.io - ANY $mwc
no patch validatingwebhookconfigurations.admissionregistration.k8s.io - ANY -
no create clusterrolebindings.rbac.authorization.k8s.io - ANY -
no impersonate serviceaccounts - ANY -
no create serviceaccounts token ANY -
EOF
while read -r want verb res sub where name; do
  target=$res
  [ "$name" = - ] || target=$res/$name
  args=("$verb" "$target" --as="$subject")
  [ "$sub" = - ] || args+=(--subresource="$sub")
  if [ "$where" = ANY ]; then args+=(--all-namespaces); else args+=(-n "$where"); fi
  got=$(k auth can-i "${args[@]}" 2>/dev/null || true)
  desc="$verb $target"
  [ "$sub" = - ] || desc="$desc/$sub"
  desc="$desc ${where/ANY/(all namespaces)}"
  if [ "$got" = "$want" ]; then pass "can-i $desc: $got"; else fail "can-i $desc: got '$got', want '$want'"; fi
done <"$out/can-i.txt"

step "a token and a kubeconfig for $subject"
umask 077
if ! k -n "$ns" create token "$sa" --duration="${FB_TOKEN_DURATION:-24h}" >"$out/token"; then
  fail "TokenRequest for $ns/$sa"
  exit 1
fi
server=$(k config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')
ca_data=$(k config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
ca_file=$(k config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority}')
if [ -z "$ca_data" ] && [ -n "$ca_file" ]; then
  case "$ca_file" in /*) ;; *) ca_file=$(dirname "$kubeconfig")/$ca_file ;; esac
  ca_data=$(base64 -w0 <"$ca_file")
fi
cat >"$out/firebreak-sa.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: chart-e2e
  cluster:
    server: $server
    certificate-authority-data: $ca_data
users:
- name: $sa
  user:
    token: $(cat "$out/token")
contexts:
- name: $sa@chart-e2e
  context:
    cluster: chart-e2e
    user: $sa
    namespace: $ns
current-context: $sa@chart-e2e
EOF
if who=$("$kubectl" --kubeconfig "$out/firebreak-sa.kubeconfig" auth whoami -o jsonpath='{.status.userInfo.username}' 2>/dev/null) &&
   [ "$who" = "$subject" ]; then
  pass "the kubeconfig authenticates as $who"
elif "$kubectl" --kubeconfig "$out/firebreak-sa.kubeconfig" get nodes -o name >/dev/null; then
  pass "the kubeconfig lists nodes (auth whoami unavailable)"
else
  fail "the kubeconfig does not work"
fi
if "$kubectl" --kubeconfig "$out/firebreak-sa.kubeconfig" get secrets -A >/dev/null 2>&1; then
  fail "the ServiceAccount can list secrets"
else
  pass "the ServiceAccount cannot list secrets"
fi
if "$kubectl" --kubeconfig "$out/firebreak-sa.kubeconfig" -n "$ns" get secrets >/dev/null 2>&1; then
  fail "the ServiceAccount can list the secrets of $ns"
else
  pass "the ServiceAccount cannot list the secrets of $ns (only its own, by name)"
fi
echo "kubeconfig: $out/firebreak-sa.kubeconfig (token valid ${FB_TOKEN_DURATION:-24h})"

bin=$root/build/release/controller/firebreak
if [ "${FB_CHART_RUN:-1}" = 1 ] && [ -x "$bin" ]; then
  step "firebreak --exit-after-sync with the chart's RBAC and settings"
  if timeout 120 "$bin" --kubeconfig "$out/firebreak-sa.kubeconfig" --config "$out/firebreak.yaml" \
       --metrics-addr "" --webhook-addr "" --exit-after-sync 2>&1 | tee "$out/sync.log"; then
    if grep -q "informers synced" "$out/sync.log" && ! grep -qi "not available\|forbidden" "$out/sync.log"; then
      pass "firebreak listed and watched nodes, pods, EvictionBudgets and Quarantines with the chart's RBAC"
    else
      fail "firebreak synced only partly (see $out/sync.log)"
    fi
  else
    fail "firebreak --exit-after-sync failed (see $out/sync.log)"
  fi
fi

step "result"
echo "run firebreak with exactly the chart's permissions:"
echo "  $bin --kubeconfig $out/firebreak-sa.kubeconfig --config $out/firebreak.yaml --metrics-addr 127.0.0.1:0"
if [ "$failures" -eq 0 ]; then
  echo "chart-e2e: all checks passed"
else
  echo "chart-e2e: $failures check(s) failed"
  exit 1
fi
