#!/usr/bin/env bash
# Checks the Helm chart (charts/firebreak) the way CI does; exit status 0 = all good.
#   1. the chart's CRDs are byte-for-byte copies of config/crds/
#   2. helm lint (strict)
#   3. helm template with the defaults and several value sets; each renders, parses, and its
#      settings file is accepted by the real firebreak binary (when build/release has one)
#   4. wrong values fail against values.schema.json
#   5. the rendered ClusterRole/Role grant exactly the table in docs/operations.md (section RBAC),
#      and the API calls in controller/shell and k8sclient are the ones that table covers
#   6. scripts/check-monitoring.sh (alert rules, dashboard)       [FB_SKIP_MONITORING=1 skips]
#   7. shellcheck of the chart/image/monitoring scripts (when shellcheck is installed)
# Helm is built from the Go module proxy on first use (scripts/go-tools.sh), then cached in
# build/tools/. Needs python3 with PyYAML (Debian: python3-yaml).
# Usage: scripts/check-chart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=scripts/go-tools.sh
. scripts/go-tools.sh
export PATH="$PATH:/usr/local/go/bin"

chart=charts/firebreak
kube_version=${FB_KUBE_VERSION:-1.37.1}
firebreak_bin=${FB_BINARY:-$root/build/release/controller/firebreak}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }
step() { printf '\n==== %s\n' "$*"; }

python3 -c 'import yaml' 2>/dev/null || {
  echo "check-chart: python3 with PyYAML is required (Debian: apt-get install python3-yaml)" >&2
  exit 1
}
helm=$(fb_tool helm)
"$helm" version --short

step "chart CRDs == config/crds"
crd_ok=1
for f in config/crds/*.yaml; do
  b=$(basename "$f")
  if ! cmp -s "$f" "$chart/crds/$b"; then
    fail "$chart/crds/$b differs from $f (fix: cp config/crds/*.yaml $chart/crds/)"
    crd_ok=0
  fi
done
for f in "$chart"/crds/*; do
  [ -e "config/crds/$(basename "$f")" ] || { fail "$f has no counterpart in config/crds/"; crd_ok=0; }
done
[ "$crd_ok" = 1 ] && pass "$(find "$chart/crds" -name '*.yaml' | wc -l) CRDs identical to config/crds"

step "helm lint"
if "$helm" lint "$chart" --strict --kube-version "$kube_version" >"$work/lint.log" 2>&1; then
  pass "helm lint --strict"
else
  cat "$work/lint.log"; fail "helm lint --strict"
fi
if "$helm" lint "$chart" --strict --kube-version "$kube_version" --namespace other \
    --set config.dryRun=true,config.leaderElection.enabled=false,replicaCount=1 >"$work/lint2.log" 2>&1; then
  pass "helm lint --strict (dry run, no leader election)"
else
  cat "$work/lint2.log"; fail "helm lint --strict (dry run, no leader election)"
fi

# ---- render with value sets -------------------------------------------------------------
# name|helm arguments (one string, split on spaces)|python assertions on the objects
cat >"$work/sets" <<'EOF'
defaults||
  d = one("Deployment"); s = d["spec"]; p = s["template"]["spec"]; c = p["containers"][0]
  check(s["replicas"] == 2, "2 replicas")
  check(p["priorityClassName"] == "system-cluster-critical", "priorityClassName")
  check(p["securityContext"]["runAsUser"] == 65532 and p["securityContext"]["runAsNonRoot"], "pod runs as 65532, non-root")
  check(p["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", "pod seccomp RuntimeDefault")
  sc = c["securityContext"]
  check(sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], "container: read-only root, no escalation, drop ALL")
  check(sc["seccompProfile"]["type"] == "RuntimeDefault" and sc["runAsUser"] == 65532, "container: seccomp RuntimeDefault, uid 65532")
  check(c["ports"][0] == {"name": "http-metrics", "containerPort": 8080, "protocol": "TCP"}, "port 8080 named http-metrics")
  check(c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz", "probes /healthz and /readyz")
  check(c["livenessProbe"]["httpGet"]["port"] == "http-metrics", "probes on http-metrics")
  check(c["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}, "resources 100m/128Mi, limit 512Mi (docs/benchmarks.md)")
  tol = {(t["key"], t["effect"]): t.get("tolerationSeconds") for t in p["tolerations"]}
  check(tol.get(("node.kubernetes.io/not-ready", "NoExecute"), 0) >= 3600 and tol.get(("node.kubernetes.io/unreachable", "NoExecute"), 0) >= 3600, "not-ready/unreachable tolerated >= 1h")
  check(("firebreak.dev/quarantine", "NoSchedule") in tol, "tolerates firebreak.dev/quarantine")
  aff = p["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
  check(any(a["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname" for a in aff), "preferred anti-affinity across nodes")
  check(one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1, "PDB maxUnavailable 1")
  check(one("Service")["spec"]["ports"][0]["name"] == "http-metrics", "metrics Service")
  check(count("ServiceMonitor") == 0, "no ServiceMonitor by default")
  check(count("CustomResourceDefinition") == 2, "2 CRDs (--include-crds)")
  check(one("Role")["metadata"]["namespace"] == "firebreak-system", "lease Role in the release namespace")
  cfg = settings()
  check(cfg["leaderElection"]["namespace"] == "firebreak-system" and cfg["metricsAddr"] == ":8080", "settings: lease namespace, metricsAddr")
  check(cfg["eviction"]["pdbBlockedTimeout"] == "10m" and cfg["client"]["qps"] == 20, "settings: defaults of config/firebreak.yaml")
  check(p["serviceAccountName"] == one("ServiceAccount")["metadata"]["name"], "pods use the chart's ServiceAccount")
dry-run-json-delete|--set config.dryRun=true --set config.log.format=json --set config.log.level=debug --set config.eviction.podEvictionMode=Delete --set config.eviction.pdbBlockedTimeout=0s --set-json config.client.qps=50.5 --set config.client.burst=100|
  cfg = settings()
  check(cfg["dryRun"] is True and cfg["log"] == {"level": "debug", "format": "json"}, "settings: dry run, json, debug")
  check(cfg["eviction"]["podEvictionMode"] == "Delete" and cfg["eviction"]["pdbBlockedTimeout"] == "0s", "settings: Delete, 0s")
  check(cfg["client"] == {"qps": 50.5, "burst": 100}, "settings: qps 50.5 burst 100")
no-leader-election|--set config.leaderElection.enabled=false --set replicaCount=1 --set podDisruptionBudget.enabled=false|
  check(count("Role") == 0 and count("RoleBinding") == 0, "no lease Role without leader election")
  check(count("PodDisruptionBudget") == 0, "PDB can be disabled")
  check(settings()["leaderElection"]["enabled"] is False, "settings: leader election off")
lease-elsewhere|--set config.leaderElection.namespace=kube-system --set config.leaderElection.name=fb-lease --set config.leaderElection.leaseDuration=30s --set config.leaderElection.renewDeadline=20s --set config.leaderElection.retryPeriod=5s|
  r = one("Role")
  check(r["metadata"]["namespace"] == "kube-system" and one("RoleBinding")["metadata"]["namespace"] == "kube-system", "Role/RoleBinding follow the lease namespace")
  check(one("RoleBinding")["subjects"][0]["namespace"] == "firebreak-system", "RoleBinding subject in the release namespace")
  check(any(x.get("resourceNames") == ["fb-lease"] for x in r["rules"]), "Role limited to the lease name")
  check(settings()["leaderElection"]["leaseDuration"] == "30s", "settings: lease timing")
monitoring-hard-affinity|--set metrics.serviceMonitor.enabled=true --set metrics.serviceMonitor.labels.release=prom --set podAntiAffinity=required --set image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --set metrics.port=9090 --set extraArgs[0]=--log-level=warn|
  sm = one("ServiceMonitor")
  check(sm["spec"]["endpoints"][0]["port"] == "http-metrics" and sm["metadata"]["labels"]["release"] == "prom", "ServiceMonitor")
  p = one("Deployment")["spec"]["template"]["spec"]; c = p["containers"][0]
  check("requiredDuringSchedulingIgnoredDuringExecution" in p["affinity"]["podAntiAffinity"], "required anti-affinity")
  check(c["image"].endswith("@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), "image by digest")
  check(c["ports"][0]["containerPort"] == 9090 and settings()["metricsAddr"] == ":9090", "metrics port 9090 in pod and settings")
  check(c["args"][-1] == "--log-level=warn", "extraArgs")
existing-sa-no-rbac|--set serviceAccount.create=false --set serviceAccount.name=my-sa --set rbac.create=false --set fullnameOverride=fb|
  check(count("ServiceAccount") == 0 and count("ClusterRole") == 0 and count("Role") == 0, "no ServiceAccount/RBAC")
  check(one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "my-sa", "existing ServiceAccount used")
  check(one("Deployment")["metadata"]["name"] == "fb", "fullnameOverride")
EOF

cat >"$work/assert.py" <<'EOF'
import sys, yaml
path, code = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
failed = []
def objs(kind): return [d for d in docs if d.get("kind") == kind]
def count(kind): return len(objs(kind))
def one(kind):
    o = objs(kind)
    if len(o) != 1: raise AssertionError("expected one %s, found %d" % (kind, len(o)))
    return o[0]
def settings(): return yaml.safe_load(one("ConfigMap")["data"]["firebreak.yaml"])
def check(ok, what):
    print(("  ok    " if ok else "  NOT   ") + what)
    if not ok: failed.append(what)
for d in docs:
    for k in ("apiVersion", "kind", "metadata"):
        if k not in d: check(False, "%s has %s" % (d.get("kind"), k))
exec(code)
sys.exit(1 if failed else 0)
EOF

step "helm template (value sets)"
python3 - "$work/sets" "$work" <<'EOF'
import sys
text, work = open(sys.argv[1]).read(), sys.argv[2]
sets, cur = [], None
for line in text.splitlines():
    if line and not line.startswith(" "):
        name, args, _ = line.split("|", 2)
        cur = [name, args, []]; sets.append(cur)
    elif line.strip():
        cur[2].append(line[2:])
for i, (name, args, code) in enumerate(sets):
    open("%s/set.%d.name" % (work, i), "w").write(name)
    open("%s/set.%d.args" % (work, i), "w").write(args)
    open("%s/set.%d.py" % (work, i), "w").write("\n".join(code) + "\n")
EOF
i=0
while [ -f "$work/set.$i.name" ]; do
  name=$(cat "$work/set.$i.name")
  read -r -a args <"$work/set.$i.args" || true
  out=$work/render.$i.yaml
  if "$helm" template firebreak "$chart" --namespace firebreak-system --include-crds \
      --kube-version "$kube_version" "${args[@]}" >"$out" 2>"$work/render.$i.err"; then
    echo "-- $name: $(grep -c '^kind:' "$out") objects"
    if python3 "$work/assert.py" "$out" "$(cat "$work/set.$i.py")"; then
      pass "template $name"
    else
      fail "template $name"
    fi
    # the settings file as firebreak itself reads it
    python3 -c 'import sys,yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap": open(sys.argv[2], "w").write(d["data"]["firebreak.yaml"])' \
      "$out" "$work/settings.$i.yaml"
    if [ -x "$firebreak_bin" ]; then
      if msg=$("$firebreak_bin" --config "$work/settings.$i.yaml" --version 2>&1); then
        pass "template $name: firebreak accepts the settings file ($msg)"
      else
        fail "template $name: firebreak refuses the settings file: $msg"
      fi
    fi
  else
    cat "$work/render.$i.err"; fail "template $name"
  fi
  i=$((i + 1))
done
[ -x "$firebreak_bin" ] || echo "note: $firebreak_bin not built; settings files not run through firebreak"

step "values.schema.json rejects wrong values"
# name|values file content|text the error must contain
cat >"$work/bad" <<'EOF'
replicas as a word|replicaCount: "two"|replicaCount
unknown log level|config: {log: {level: verbose}}|level
unknown log format|config: {log: {format: xml}}|format
unknown top-level key (typo)|replicas: 2|replicas
unknown settings key|config: {eviction: {nodeEvictionRates: 0.2}}|nodeEvictionRates
unknown eviction mode|config: {eviction: {podEvictionMode: Drain}}|podEvictionMode
duration with days|config: {eviction: {pdbBlockedTimeout: 1d}}|pdbBlockedTimeout
duration as a number|config: {leaderElection: {leaseDuration: 15}}|leaseDuration
threshold above 1|config: {eviction: {unhealthyZoneThreshold: 1.5}}|unhealthyZoneThreshold
negative rate|config: {eviction: {nodeEvictionRate: -0.1}}|nodeEvictionRate
qps 0|config: {client: {qps: 0}}|qps
burst as a fraction|config: {client: {burst: 2.5}}|burst
dryRun as a string|config: {dryRun: "yes"}|dryRun
metrics port out of range|metrics: {port: 70000}|port
unknown anti-affinity mode|podAntiAffinity: soft|podAntiAffinity
bad image digest|image: {digest: "latest"}|digest
extraArgs not a flag|extraArgs: ["debug"]|extraArgs
bad toleration effect|extraTolerations: [{key: a, operator: Exists, effect: NoEvict}]|effect
EOF
while IFS='|' read -r name content expect; do
  printf '%s\n' "$content" >"$work/bad.yaml"
  if "$helm" template firebreak "$chart" -n firebreak-system --kube-version "$kube_version" \
      -f "$work/bad.yaml" >/dev/null 2>"$work/bad.err"; then
    fail "schema accepted: $name ($content)"
  elif grep -q "schema" "$work/bad.err" && grep -q -- "$expect" "$work/bad.err"; then
    pass "schema rejects: $name — $(grep -m1 -o "at '[^']*'[^\"]*" "$work/bad.err" | head -c 110 || true)"
  else
    cat "$work/bad.err"; fail "schema: $name failed, but not with a schema error naming $expect"
  fi
done <"$work/bad"
# and a --set typo is caught the same way
if "$helm" template firebreak "$chart" --kube-version "$kube_version" --set replicaCount=two >/dev/null 2>"$work/bad.err"; then
  fail "schema accepted --set replicaCount=two"
else
  pass "schema rejects --set replicaCount=two"
fi
# a rule the schema cannot express, enforced by the templates
if "$helm" template firebreak "$chart" --kube-version "$kube_version" \
    --set config.leaderElection.enabled=false >/dev/null 2>"$work/bad.err"; then
  fail "template accepted 2 replicas without leader election"
elif grep -q "double evictions" "$work/bad.err"; then
  pass "template rejects 2 replicas without leader election"
else
  cat "$work/bad.err"; fail "2 replicas without leader election: unexpected error"
fi

step "RBAC: rendered roles == docs/operations.md table; code calls covered"
rbac_rows=$(sed -n '/rbac-table:begin/,/rbac-table:end/p' docs/operations.md | grep -c '^| \(cluster\|lease\|scaleToZero\)' || true)
"$helm" template firebreak "$chart" --kube-version "$kube_version" --set rbac.scaleToZero=true \
  >"$work/render.scale.yaml"
rbac_ok=1
for variant in default scale; do
render=$work/render.0.yaml
[ "$variant" = scale ] && render=$work/render.scale.yaml
echo "  -- rbac.scaleToZero=$([ "$variant" = scale ] && echo true || echo false)"
if ! python3 - "$render" docs/operations.md "$variant" <<'EOF'
import re, sys, yaml
render, doc, variant = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(doc).read()
m = re.search(r"<!-- rbac-table:begin -->(.*?)<!-- rbac-table:end -->", text, re.S)
if not m: sys.exit("no rbac-table markers in " + doc)
expected = set()
for line in m.group(1).strip().splitlines()[2:]:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    scope, group, res, verb = cells[0], cells[1].strip("`"), cells[2], cells[3].strip("`")
    group = "" if group == '""' else group
    if scope == "scaleToZero":  # granted cluster-wide with rbac.scaleToZero only
        if variant != "scale": continue
        scope = "cluster"
    names = "*"
    mm = re.match(r"`([^`]+)`(?: \(name: the Lease's\))?$", res)
    if not mm: sys.exit("cannot parse resource cell: " + res)
    if "(name:" in res: names = "LEASE"
    expected.add((scope, group, mm.group(1), verb, names))
docs = [d for d in yaml.safe_load_all(open(render)) if d]
lease = [d for d in docs if d["kind"] == "ConfigMap"][0]
lease_name = yaml.safe_load(lease["data"]["firebreak.yaml"])["leaderElection"]["name"]
granted = set()
for d in docs:
    if d["kind"] not in ("ClusterRole", "Role"): continue
    scope = "cluster" if d["kind"] == "ClusterRole" else "lease"
    for r in d.get("rules", []):
        if r.get("nonResourceURLs"): granted.add((scope, "nonResourceURLs", str(r["nonResourceURLs"]), "*", "*"))
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    rn = r.get("resourceNames")
                    if rn is None: n = "*"
                    elif rn == [lease_name] and scope == "lease": n = "LEASE"
                    else: n = ",".join(rn)
                    granted.add((scope, g, res, v, n))
wild = [g for g in granted if "*" in g[1:4]]
extra, missing = granted - expected, expected - granted
fmt = lambda t: "%-7s %-20s %-24s %-7s %s" % (t[0], t[1] or '""', t[2], t[3], "name=" + t[4] if t[4] != "*" else "")
print("  granted (%d rules):" % len(granted))
for t in sorted(granted): print("    " + fmt(t))
bad = False
for t in sorted(wild): print("  WILDCARD granted: " + fmt(t)); bad = True
for t in sorted(extra): print("  MORE than the table: " + fmt(t)); bad = True
for t in sorted(missing): print("  MISSING from the chart: " + fmt(t)); bad = True
# bindings point at the roles and the chart's ServiceAccount
sa = [d for d in docs if d["kind"] == "ServiceAccount"][0]["metadata"]
for kind, role in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
    b = [d for d in docs if d["kind"] == kind][0]
    r = [d for d in docs if d["kind"] == role][0]
    ok = b["roleRef"]["name"] == r["metadata"]["name"] and b["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}]
    print("  %s %s -> %s, ServiceAccount %s/%s" % ("ok  " if ok else "BAD ", kind, role, sa["namespace"], sa["name"]))
    bad |= not ok
sys.exit(1 if bad else 0)
EOF
then
  rbac_ok=0
fi
done
if [ "$rbac_ok" = 1 ]; then
  pass "rendered RBAC == table ($rbac_rows rows; scaleToZero rows only with rbac.scaleToZero), bound to the chart's ServiceAccount"
else
  fail "rendered RBAC != table"
fi

# The other direction: every API call in the code is one the table covers. The controller's
# writes and reads go through kc_<verb>(client, &RESOURCE, ..., "subresource"?) or
# patch_object(c, &RESOURCE, ..., "subresource"?) (executor.c) in controller/shell; the
# informers through the `.res = &RESOURCE` entries of informers.c's table and webhookcerts.c's
# start_informer(c, &<resource constant>, ...); leader.c and events.c through fixed resources.
# A new call fails here until the table (and chart) cover it.
if python3 - <<'EOF'
import re, sys, glob
src = "".join(open(f).read() for f in glob.glob("controller/shell/*.c"))
res = {"KC_RES_NODES": ("", "nodes"), "KC_RES_PODS": ("", "pods"),
       "KC_RES_DEPLOYMENTS": ("apps", "deployments"), "KC_RES_STATEFULSETS": ("apps", "statefulsets"),
       "KC_RES_REPLICASETS": ("apps", "replicasets"),
       "FB_RES_EVICTIONBUDGETS": ("firebreak.dev", "evictionbudgets"),
       "FB_RES_QUARANTINES": ("firebreak.dev", "quarantines"),
       "KC_RES_SECRETS": ("", "secrets"),
       "KC_RES_MUTATINGWEBHOOKCONFIGURATIONS": ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")}
verb = {"kc_get": "get", "kc_list": "list", "kc_create": "create", "kc_update": "update",
        "kc_patch": "patch", "kc_delete": "delete", "kc_watch": "watch"}
calls = set()
for fn, r, rest in re.findall(r"\b(kc_get|kc_list|kc_create|kc_update|kc_patch|kc_delete|kc_watch)\(\s*c->client,\s*&(\w+),([^;]*);", src):
    if r not in res: print("  unknown resource constant in a call: %s(%s)" % (fn, r)); sys.exit(1)
    g, p = res[r]
    sub = re.match(r"[^,]*,[^,]*,\s*\"(\w+)\"", rest)
    calls.add((g, p + ("/" + sub.group(1) if sub else ""), verb[fn]))
for r, rest in re.findall(r"\bpatch_object\(\s*c,\s*&(\w+),([^;]*);", src):
    if r not in res: print("  unknown resource constant in a call: patch_object(%s)" % r); sys.exit(1)
    g, p = res[r]
    sub = re.match(r"[^,]*,[^,]*,\s*\"(\w+)\"", rest)
    calls.add((g, p + ("/" + sub.group(1) if sub else ""), "patch"))
informers = open("controller/shell/informers.c").read()
inf_res = re.findall(r"\.res\s*=\s*&(\w+)", informers)
if not inf_res: print("  informers.c: its table is not in the form this check reads"); sys.exit(1)
# webhookcerts.c starts its informers (the webhook's Secret and configuration, each by name)
# through start_informer(c, &<resource constant>, ...)
wc = open("controller/shell/webhookcerts.c").read()
inf_res += re.findall(r"\bstart_informer\(\s*c,\s*&(\w+),", wc)
for r in inf_res:
    g, p = res[r]; calls |= {(g, p, "list"), (g, p, "watch")}
# scale.c (ScaleToZero) reaches the workloads of its `scale_targets` list through a variable:
# each kc_<verb>(c, res, ns, name, NULL|"sub", ...) counts for every resource of the list.
sc = open("controller/shell/scale.c").read()
targets = re.search(r"scale_targets\[\]\s*=\s*\{(.*?)\};", sc, re.S)
scalable = re.findall(r"&(KC_RES_\w+)", targets.group(1)) if targets else []
vcalls = re.findall(r"\b(kc_get|kc_list|kc_create|kc_update|kc_patch|kc_delete)\(\s*c,\s*res,\s*ns,\s*name,\s*(NULL|\"\w+\")", sc)
if not scalable or len(vcalls) != len(re.findall(r"\bkc_(?:get|list|create|update|patch|delete|watch)\(", sc)):
    print("  scale.c: its scale_targets list or a kc_ call is not in the form this check reads"); sys.exit(1)
for fn, sub in vcalls:
    for r in scalable:
        g, p = res[r]
        calls.add((g, p + ("" if sub == "NULL" else "/" + sub.strip('"')), verb[fn]))
if re.search(r"\bkc_evict\(", src): calls.add(("", "pods/eviction", "create"))
lead = open("k8sclient/src/leader.c").read(); ev = open("k8sclient/src/events.c").read()
if "KC_RES_LEASES" in lead:
    m = set(re.findall(r'lease_request\(l,\s*(?:create \? "POST" : "PUT"|"(\w+)")', lead))
    calls |= {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}
    if re.search(r'"(DELETE|PATCH)"', lead): print("  leader.c now sends DELETE/PATCH"); sys.exit(1)
if "KC_RES_EVENTS" in ev:
    calls |= {("events.k8s.io", "events", "create"), ("events.k8s.io", "events", "patch")}
    if "KC_RES_CORE_EVENTS" in ev: calls.add(("", "events", "create"))
table = open("docs/operations.md").read()
rows = set()
for line in re.search(r"<!-- rbac-table:begin -->(.*?)<!-- rbac-table:end -->", table, re.S).group(1).splitlines()[3:]:
    c = [x.strip().strip("`") for x in line.strip().strip("|").split("|")]
    rows.add(("" if c[1] == '""' else c[1], re.match(r"`?([^` ]+)", c[2]).group(1), c[3]))
missing = calls - rows
for t in sorted(calls): print("  code calls %-20s %-24s %s%s" % (t[0] or '""', t[1], t[2], "" if t in rows else "   <- NOT IN THE TABLE"))
unused = rows - calls
for t in sorted(unused): print("  table row not found in the code: %s %s %s" % t)
sys.exit(1 if missing or unused else 0)
EOF
then
  pass "every API call in controller/shell, leader.c and events.c is in the table, and every row is used"
else
  fail "API calls in the code and the RBAC table disagree"
fi

if [ "${FB_SKIP_MONITORING:-0}" != 1 ]; then
  step "monitoring (scripts/check-monitoring.sh)"
  if scripts/check-monitoring.sh; then pass "monitoring"; else fail "monitoring"; fi
fi

step "shellcheck"
if command -v shellcheck >/dev/null; then
  if shellcheck -x scripts/check-chart.sh scripts/check-monitoring.sh scripts/chart-e2e.sh \
      scripts/go-tools.sh deploy/check-image.sh; then
    pass "shellcheck"
  else
    fail "shellcheck"
  fi
else
  echo "note: shellcheck not installed; skipped"
fi

step "result"
if [ "$failures" -eq 0 ]; then
  echo "check-chart: all checks passed"
else
  echo "check-chart: $failures check(s) failed"
  exit 1
fi
