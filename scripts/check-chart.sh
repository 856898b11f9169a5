#!/usr/bin/env bash
# Checks the Helm chart (charts/firebreak) the way CI does; exit status 0 = all good.
#   1. the chart's CRDs are byte-for-byte copies of config/crds/
#   2. helm lint (strict)
#   3. helm template with the defaults and several value sets; each renders, parses, and its
#      settings file is accepted by the real firebreak binary (when build/release has one)
#   4. wrong values fail against values.schema.json
#   5. the rendered ClusterRole/Roles grant exactly the table in docs/operations.md (section RBAC)
#      in each mode (defaults, rbac.scaleToZero, webhook.certs=certManager, webhook off, managed
#      mode with its uninstall hook), and the API calls in controller/shell and k8sclient are the
#      ones that table covers (restore.c's, those of the uninstall hook, by the `restore` rows)
#   The admission webhook is checked in step 3's value sets: failurePolicy Ignore, a short timeout,
#   never called for kube-system, kube-node-lease, the release namespace, webhook.excludeNamespaces
#   or firebreak's own pods, no caBundle in the chart, and the names the controller is given by
#   flag are those of the objects the chart creates.
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
if "$helm" lint "$chart" --strict --kube-version "$kube_version" \
    --set managed.enabled=true >"$work/lint3.log" 2>&1; then
  pass "helm lint --strict (managed mode, uninstall hook)"
else
  cat "$work/lint3.log"; fail "helm lint --strict (managed mode, uninstall hook)"
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
  check(service("metrics")["spec"]["ports"][0]["name"] == "http-metrics", "metrics Service")
  check(c["ports"][1] == {"name": "https-webhook", "containerPort": 9443, "protocol": "TCP"}, "port 9443 named https-webhook")
  webhook(certs="self")
  check(one("MutatingWebhookConfiguration")["webhooks"][0]["timeoutSeconds"] <= 3, "webhook: default timeout at most 3 s")
  check(count("ServiceMonitor") == 0, "no ServiceMonitor by default")
  check(count("DaemonSet") == 0 and count("ValidatingAdmissionPolicy") == 0, "no node agent by default")
  check(count("CustomResourceDefinition") == 2, "2 CRDs (--include-crds)")
  check(named("Role", "-leader-election")["metadata"]["namespace"] == "firebreak-system", "lease Role in the release namespace")
  cfg = settings()
  check(cfg["leaderElection"]["namespace"] == "firebreak-system" and cfg["metricsAddr"] == ":8080", "settings: lease namespace, metricsAddr")
  check(cfg["eviction"]["pdbBlockedTimeout"] == "10m" and cfg["client"]["qps"] == 20, "settings: defaults of config/firebreak.yaml")
  check(p["serviceAccountName"] == one("ServiceAccount")["metadata"]["name"], "pods use the chart's ServiceAccount")
  check(cfg["managed"] == {"enabled": False, "adoptRate": 10, "defaultTolerationSeconds": 300}, "settings: managed mode off, adoptRate 10, default 300 s")
  check(count("Job") == 0 and not [x for x in objs("Role") + objs("RoleBinding") if x["metadata"]["name"].endswith("-restore")], "managed mode off: no uninstall hook, no restore Role")
dry-run-json-delete|--set config.dryRun=true --set config.log.format=json --set config.log.level=debug --set config.eviction.podEvictionMode=Delete --set config.eviction.pdbBlockedTimeout=0s --set-json config.client.qps=50.5 --set config.client.burst=100|
  cfg = settings()
  check(cfg["dryRun"] is True and cfg["log"] == {"level": "debug", "format": "json"}, "settings: dry run, json, debug")
  check(cfg["eviction"]["podEvictionMode"] == "Delete" and cfg["eviction"]["pdbBlockedTimeout"] == "0s", "settings: Delete, 0s")
  check(cfg["client"] == {"qps": 50.5, "burst": 100}, "settings: qps 50.5 burst 100")
no-leader-election|--set config.leaderElection.enabled=false --set replicaCount=1 --set podDisruptionBudget.enabled=false|
  check(not [x for x in objs("Role") + objs("RoleBinding") if x["metadata"]["name"].endswith("-leader-election")], "no lease Role without leader election")
  check(count("PodDisruptionBudget") == 0, "PDB can be disabled")
  check(settings()["leaderElection"]["enabled"] is False, "settings: leader election off")
lease-elsewhere|--set config.leaderElection.namespace=kube-system --set config.leaderElection.name=fb-lease --set config.leaderElection.leaseDuration=30s --set config.leaderElection.renewDeadline=20s --set config.leaderElection.retryPeriod=5s|
  r = named("Role", "-leader-election"); rb = named("RoleBinding", "-leader-election")
  check(r["metadata"]["namespace"] == "kube-system" and rb["metadata"]["namespace"] == "kube-system", "Role/RoleBinding follow the lease namespace")
  check(rb["subjects"][0]["namespace"] == "firebreak-system", "RoleBinding subject in the release namespace")
  check(named("Role", "-webhook")["metadata"]["namespace"] == "firebreak-system", "the Secret's Role stays in the release namespace")
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
  check(one("MutatingWebhookConfiguration")["metadata"]["name"] == "fb" and service("webhook")["metadata"]["name"] == "fb-webhook", "webhook names follow fullnameOverride")
webhook-cert-manager|--set webhook.certs=certManager --set webhook.timeoutSeconds=3|
  webhook(certs="certManager")
  check(count("Issuer") == 2 and count("Certificate") == 2, "cert-manager: self-signed Issuer, CA Certificate, CA Issuer, serving Certificate")
  ca = [x for x in objs("Certificate") if x["spec"].get("isCA")]
  check(len(ca) == 1 and ca[0]["spec"]["issuerRef"]["name"] == [i for i in objs("Issuer") if "selfSigned" in i["spec"]][0]["metadata"]["name"], "cert-manager: the CA is self-signed")
  check([i for i in objs("Issuer") if "ca" in i["spec"]][0]["spec"]["ca"]["secretName"] == ca[0]["spec"]["secretName"], "cert-manager: the CA Issuer signs with the CA's Secret")
webhook-cert-manager-issuer|--set webhook.certs=certManager --set webhook.certManager.issuerRef.name=corp-ca --set webhook.certManager.issuerRef.kind=ClusterIssuer --set webhook.secretName=fb-tls|
  webhook(certs="certManager")
  check(count("Issuer") == 0 and count("Certificate") == 1, "cert-manager with issuerRef: only the serving Certificate")
  check(one("Certificate")["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer"} and one("Certificate")["spec"]["secretName"] == "fb-tls", "cert-manager: issuerRef and secretName as given")
webhook-url-excludes|--set webhook.url=https://127.0.0.1:9443/mutate-pods --set webhook.excludeNamespaces[0]=calico-system --set webhook.excludeNamespaces[1]=kube-system --set webhook.timeoutSeconds=1|
  webhook(certs="self", url="https://127.0.0.1:9443/mutate-pods", exclude=["calico-system"])
  vals = one("MutatingWebhookConfiguration")["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["values"]
  check(len(vals) == len(set(vals)), "excluded namespaces listed once each")
managed|--set managed.enabled=true --set-json managed.adoptRate=25 --set managed.defaultTolerationSeconds=120|
  cfg = settings()
  check(cfg["managed"] == {"enabled": True, "adoptRate": 25, "defaultTolerationSeconds": 120}, "settings file: managed mode on, adoptRate 25, default 120 s")
  j = one("Job"); meta = j["metadata"]; p = j["spec"]["template"]["spec"]; c = p["containers"][0]
  check(meta["annotations"]["helm.sh/hook"] == "pre-delete", "the restore Job is a pre-delete hook")
  check("hook-succeeded" in meta["annotations"]["helm.sh/hook-delete-policy"], "the hook Job is deleted once it succeeded")
  dep = one("Deployment")["metadata"]["name"]
  check("--restore-tolerations" in c["args"] and "--stop-deployment=" + dep in c["args"], "the hook runs --restore-tolerations --stop-deployment=<the Deployment>")
  check(p["securityContext"]["runAsUser"] == 65532 and p["securityContext"]["runAsNonRoot"], "hook pod runs as 65532, non-root")
  check(c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["capabilities"]["drop"] == ["ALL"], "hook container: read-only root, drop ALL")
  labels = j["spec"]["template"]["metadata"]["labels"]
  check(labels.get("firebreak.dev/webhook") == "skip", "hook pod labelled firebreak.dev/webhook=skip")
  check(not selects(one("Deployment")["spec"]["selector"], labels), "the Deployment's selector does not select the hook pod")
  check(p["serviceAccountName"] == one("ServiceAccount")["metadata"]["name"], "hook uses the chart's ServiceAccount")
  r = named("Role", "-restore")
  check([x["resourceNames"] for x in r["rules"]] == [[dep], [dep]], "restore Role limited to the Deployment by name")
  check(sorted((g, res, v) for x in r["rules"] for g in x["apiGroups"] for res in x["resources"] for v in x["verbs"]) == [("apps", "deployments", "get"), ("apps", "deployments/scale", "patch")], "restore Role: apps deployments get, deployments/scale patch, nothing else")
  check(r["metadata"]["namespace"] == "firebreak-system" and "helm.sh/hook" not in (r["metadata"].get("annotations") or {}), "restore Role: in the release namespace, a normal resource (exists while the hook runs)")
  rb = named("RoleBinding", "-restore")
  check(rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": r["metadata"]["name"]} and rb["subjects"] == [{"kind": "ServiceAccount", "name": p["serviceAccountName"], "namespace": "firebreak-system"}], "restore RoleBinding: the restore Role to the chart's ServiceAccount")
  check("helm.sh/hook-weight" in meta["annotations"] and "before-hook-creation" in meta["annotations"]["helm.sh/hook-delete-policy"], "hook: a weight; a Job left by a failed uninstall is replaced by the next")
  check(j["spec"]["backoffLimit"] == 2 and j["spec"]["activeDeadlineSeconds"] == 600 and p["restartPolicy"] == "Never", "hook Job: backoffLimit 2, activeDeadlineSeconds 600, restartPolicy Never")
  dp = one("Deployment")["spec"]["template"]["spec"]; dc = dp["containers"][0]
  check(c["image"] == dc["image"] and c.get("command") == dc.get("command") and c["resources"] == dc["resources"], "hook: the Deployment's image, command and resources")
  check(c["securityContext"] == dc["securityContext"] and p["securityContext"] == dp["securityContext"], "hook: the Deployment's pod and container securityContext")
  check(c["securityContext"]["runAsUser"] == 65532 and c["securityContext"]["runAsNonRoot"] and c["securityContext"]["allowPrivilegeEscalation"] is False, "hook container: uid 65532, non-root, no escalation")
  mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}; vols = {v["name"]: v for v in p["volumes"]}
  check("--config=/etc/firebreak/firebreak.yaml" in c["args"] and vols[mounts["/etc/firebreak"]].get("configMap", {}).get("name") == one("ConfigMap")["metadata"]["name"], "hook: --config, the chart's settings file mounted as in the Deployment")
  env = {e["name"]: e for e in c.get("env", [])}
  check("--namespace=$(POD_NAMESPACE)" in c["args"] and env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace" and meta["namespace"] == "firebreak-system", "hook: --namespace = its own, the release namespace (where the Deployment is)")
  check(not [a for a in c["args"] if a.startswith("--managed") or a.startswith("--dry-run") or a.startswith("--webhook-") or a.startswith("--leader-elect")], "hook: no --managed, --dry-run, --webhook-* or --leader-elect flag")
managed-no-restore|--set managed.enabled=true --set managed.restoreOnUninstall=false|
  check(settings()["managed"]["enabled"] is True, "settings file: managed mode on")
  check(count("Job") == 0 and not [x for x in objs("Role") + objs("RoleBinding") if x["metadata"]["name"].endswith("-restore")], "restoreOnUninstall false: no hook Job, no restore Role")
managed-no-rbac|--set managed.enabled=true --set rbac.create=false --set serviceAccount.create=false --set serviceAccount.name=my-sa --set fullnameOverride=fb|
  j = one("Job"); c = j["spec"]["template"]["spec"]["containers"][0]
  check(count("Role") == 0 and count("RoleBinding") == 0, "rbac.create false: the hook Job without a restore Role")
  check(j["spec"]["template"]["spec"]["serviceAccountName"] == "my-sa" and "--stop-deployment=fb" in c["args"], "hook: the existing ServiceAccount, --stop-deployment follows fullnameOverride")
node-agent|--set node.enabled=true --set node.nodeSelector.gpu=yes --set node.devices[0]=/dev/custom|
  p = one("DaemonSet")["spec"]["template"]["spec"]; c = p["containers"][0]; sc = c["securityContext"]
  check(p["serviceAccountName"] == "firebreak-node" and not p.get("hostPID") and not p.get("hostNetwork"), "agent: its own ServiceAccount, no hostPID, no hostNetwork")
  check(c["command"] == ["/usr/local/bin/firebreak-node"] and c["args"][:3] == ["watch", "--root=/host", "--node=$(NODE_NAME)"] and "--device=/dev/custom" in c["args"], "agent: watch --root /host --node <its node>")
  check(all(m["readOnly"] for m in c["volumeMounts"]) and sorted(v["hostPath"]["path"] for v in p["volumes"]) == ["/proc", "/sys/fs/cgroup"], "agent: only /proc and /sys/fs/cgroup of the host, read-only (observe mode)")
  check(sc["capabilities"] == {"drop": ["ALL"], "add": ["SYS_PTRACE", "DAC_READ_SEARCH"]} and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"], "agent: two capabilities, no CAP_KILL, read-only root")
  check(not [a for a in c["args"] if a.startswith("--act")], "agent: observe only unless node.act.enabled")
  check(p["nodeSelector"] == {"kubernetes.io/os": "linux", "gpu": "yes"}, "agent: node selector")
  check(count("ValidatingAdmissionPolicy") == 1 and one("ValidatingAdmissionPolicyBinding")["spec"]["validationActions"] == ["Deny"], "agent: the own-node policy, denying")
  j = one("Job"); jc = j["spec"]["template"]["spec"]["containers"][0]
  check(j["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete" and jc["args"][:3] == ["stop-daemonset", "--namespace=firebreak-system", "--daemonset=firebreak-node"] and j["spec"]["template"]["spec"]["serviceAccountName"] == "firebreak-node-stop", "agent: a pre-delete hook stops the agents first (their RBAC still there)")
  check(jc["securityContext"]["runAsNonRoot"] and jc["securityContext"]["capabilities"] == {"drop": ["ALL"]}, "agent: the hook runs as non-root with no capability")
  agent = one("DaemonSet")["spec"]["template"]["metadata"]["labels"]
  sels = [one("Deployment")["spec"]["selector"], one("PodDisruptionBudget")["spec"]["selector"]] + [{"matchLabels": x["spec"]["selector"]} for x in objs("Service")]
  check(not any(selects(sel, agent) for sel in sels), "agent: its pods match no selector of the controller's (Deployment, PDB, Services)")
node-agent-act|--set node.enabled=true --set node.act.enabled=true --set-string node.act.nodeSelector.gpu=true --set node.act.maxKills=2 --set node.act.protectNamespaces[0]=ml-infra|
  p = one("DaemonSet")["spec"]["template"]["spec"]; c = p["containers"][0]; sc = c["securityContext"]
  check(p.get("hostPID") is True and sc["capabilities"] == {"drop": ["ALL"], "add": ["SYS_PTRACE", "DAC_READ_SEARCH", "KILL"]}, "act mode: hostPID and CAP_KILL, nothing more")
  check(["--act", "--act-max-kills=2", "--act-period=3600", "--act-node-selector=gpu=true", "--act-protect-namespace=ml-infra", "--act-state=/var/lib/firebreak-node/kills"] == [a for a in c["args"] if a.startswith("--act")], "act mode: its settings as flags")
  rw = [m for m in c["volumeMounts"] if not m.get("readOnly")]
  check(rw == [{"name": "state", "mountPath": "/var/lib/firebreak-node"}] and [v["hostPath"]["path"] for v in p["volumes"] if v["name"] == "state"] == ["/var/lib/firebreak-node"], "act mode: one writable host directory, for the kill times")
node-agent-measure-only|--set node.enabled=true --set node.attribution=false --set node.restrictToOwnNode=false|
  sc = one("DaemonSet")["spec"]["template"]["spec"]["containers"][0]["securityContext"]
  check(sc["runAsNonRoot"] and sc["runAsUser"] == 65532 and sc["capabilities"] == {"drop": ["ALL"]}, "agent without attribution: non-root, no capability")
  check(count("ValidatingAdmissionPolicy") == 0, "agent: no policy unless asked")
webhook-off|--set webhook.enabled=false|
  check(count("MutatingWebhookConfiguration") == 0 and count("Certificate") == 0, "webhook off: no webhook configuration")
  check([x["metadata"]["name"] for x in objs("Service")] == ["firebreak-metrics"], "webhook off: no webhook Service")
  check([x["metadata"]["name"] for x in objs("Role")] == ["firebreak-leader-election"], "webhook off: no Role for the Secret")
  c = one("Deployment")["spec"]["template"]["spec"]["containers"][0]
  check("--webhook-addr=" in c["args"] and not [a for a in c["args"] if a.startswith("--webhook-") and a != "--webhook-addr="], "webhook off: --webhook-addr= (off), no other webhook flag")
  check([x["name"] for x in c["ports"]] == ["http-metrics"], "webhook off: no webhook port")
  check(not [r for r in one("ClusterRole")["rules"] if "mutatingwebhookconfigurations" in r["resources"]], "webhook off: no grant on webhook configurations")
  check(any(r["resources"] == ["pods"] and "patch" in r["verbs"] for r in one("ClusterRole")["rules"]), "webhook off: pods patch kept (gates of an earlier install are still released)")
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
def named(kind, suffix):
    o = [x for x in objs(kind) if x["metadata"]["name"].endswith(suffix)]
    if len(o) != 1: raise AssertionError("expected one %s named *%s, found %d" % (kind, suffix, len(o)))
    return o[0]
def service(component):
    return [x for x in objs("Service") if x["metadata"]["labels"].get("app.kubernetes.io/component") == component][0]
def selects(sel, labels):
    # a metav1.LabelSelector as the API server reads it (a missing key satisfies NotIn)
    if sel is None: return True
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v: return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals: return False
        if op == "NotIn" and k in labels and labels[k] in vals: return False
        if op == "Exists" and k not in labels: return False
        if op == "DoesNotExist" and k in labels: return False
    return True
def webhook(certs, url="", exclude=(), ns="firebreak-system"):
    # the admission webhook: safe whatever happens to firebreak, and wired to what the chart creates
    mwc = one("MutatingWebhookConfiguration")
    check([w["name"] for w in mwc["webhooks"]] == ["quarantine.firebreak.dev"], "webhook: one entry, quarantine.firebreak.dev")
    w = mwc["webhooks"][0]
    check(w["failurePolicy"] == "Ignore", "webhook: failurePolicy Ignore (no answer admits the pod ungated)")
    check(1 <= w["timeoutSeconds"] <= 5, "webhook: timeoutSeconds %s within 1..5" % w["timeoutSeconds"])
    check(w["sideEffects"] == "None" and w["admissionReviewVersions"] == ["v1"], "webhook: sideEffects None, AdmissionReview v1")
    check(w["reinvocationPolicy"] == "IfNeeded" and w["matchPolicy"] == "Equivalent", "webhook: reinvocationPolicy IfNeeded, matchPolicy Equivalent")
    check(w["rules"] == [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "scope": "Namespaced"}], "webhook: pods CREATE only")
    check("caBundle" not in w["clientConfig"], "webhook: no caBundle in the chart (%s writes it)" % ("firebreak" if certs == "self" else "cainjector"))
    for n in ["kube-system", "kube-node-lease", ns] + list(exclude):
        check(not selects(w["namespaceSelector"], {"kubernetes.io/metadata.name": n}), "webhook: never called in namespace " + n)
    check(selects(w["namespaceSelector"], {"kubernetes.io/metadata.name": "default"}), "webhook: called in namespace default")
    tmpl = one("Deployment")["spec"]["template"]; c = tmpl["spec"]["containers"][0]
    check(not selects(w["objectSelector"], tmpl["metadata"]["labels"]), "webhook: never called for firebreak's own pods (their labels)")
    check(not selects(w["objectSelector"], {"firebreak.dev/webhook": "skip"}) and selects(w["objectSelector"], {"app": "web"}), "webhook: skips pods labelled firebreak.dev/webhook=skip, only those")
    check([m["name"] for m in w.get("matchConditions", [])] == ["not-bound-to-a-node"], "webhook: not called for pods created bound to a node")
    args = dict(a[2:].split("=", 1) for a in c["args"] if a.startswith("--webhook-") or a.startswith("--namespace="))
    env = {e["name"]: e for e in c.get("env", [])}
    check(args.get("webhook-addr") == ":9443" and any(p["containerPort"] == 9443 and p["name"] == "https-webhook" for p in c["ports"]), "webhook: --webhook-addr=:9443, container port 9443")
    check(args.get("namespace") == "$(POD_NAMESPACE)" and env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace", "webhook: --namespace from the downward API")
    check(args.get("webhook-config") == mwc["metadata"]["name"], "webhook: --webhook-config names the chart's configuration")
    check(args.get("webhook-certs") == ("self" if certs == "self" else "external"), "webhook: --webhook-certs=%s" % args.get("webhook-certs"))
    webhook_services = [x for x in objs("Service") if x["metadata"]["labels"].get("app.kubernetes.io/component") == "webhook"]
    if url:
        check(w["clientConfig"] == {"url": url} and not webhook_services, "webhook: clientConfig.url, no Service")
    else:
        svc = service("webhook")
        check(w["clientConfig"] == {"service": {"name": svc["metadata"]["name"], "namespace": ns, "path": "/mutate-pods", "port": 443}}, "webhook: clientConfig.service -> Service %s:443 /mutate-pods" % svc["metadata"]["name"])
        check(svc["spec"]["ports"] == [{"name": "https-webhook", "port": 443, "targetPort": "https-webhook", "protocol": "TCP"}] and selects({"matchLabels": svc["spec"]["selector"]}, tmpl["metadata"]["labels"]), "webhook: Service 443 -> https-webhook of every replica")
        check(args.get("webhook-service") == svc["metadata"]["name"], "webhook: --webhook-service names the Service")
    secret = args.get("webhook-secret")
    roles = [r for r in objs("Role") if r["metadata"]["name"].endswith("-webhook")]
    if roles:
        limited = [r for r in roles[0]["rules"] if r.get("resourceNames")]
        check(roles[0]["metadata"]["namespace"] == ns and [r["resourceNames"] for r in limited] == [[secret]], "webhook: the Secret's Role is in %s and names only %s" % (ns, secret))
    mwc_rules = [r for r in (objs("ClusterRole") or [{"rules": []}])[0]["rules"] if "mutatingwebhookconfigurations" in r["resources"]]
    ann = (mwc["metadata"].get("annotations") or {}).get("cert-manager.io/inject-ca-from")
    if certs == "self":
        check(ann is None, "webhook: self mode, no cainjector annotation")
        if objs("ClusterRole"):
            check([r.get("resourceNames") for r in mwc_rules] == [[mwc["metadata"]["name"]]], "webhook: the ClusterRole names only the chart's webhook configuration")
    else:
        cert = [x for x in objs("Certificate") if not x["spec"].get("isCA")]
        check(len(cert) == 1 and ann == "%s/%s" % (cert[0]["metadata"]["namespace"], cert[0]["metadata"]["name"]), "webhook: cert-manager.io/inject-ca-from names the serving Certificate")
        check(cert[0]["spec"]["secretName"] == secret, "webhook: cert-manager writes the Secret firebreak reads (%s)" % secret)
        if not url:
            name = service("webhook")["metadata"]["name"]
            check(set(cert[0]["spec"]["dnsNames"]) >= {name, "%s.%s.svc" % (name, ns)}, "webhook: the certificate names the Service")
        check(not mwc_rules, "webhook: cert-manager mode, no grant on webhook configurations (cainjector writes caBundle)")
        check(not roles or all(r["verbs"] == ["get", "list", "watch"] for r in roles[0]["rules"]), "webhook: cert-manager mode, the Secret is only read")
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
webhook timeout 0|webhook: {timeoutSeconds: 0}|timeoutSeconds
webhook timeout above the bound|webhook: {timeoutSeconds: 6}|timeoutSeconds
webhook timeout as a string|webhook: {timeoutSeconds: "2"}|timeoutSeconds
unknown certificate mode|webhook: {certs: cert-manager}|certs
webhook url not https|webhook: {url: "http://10.0.0.1:9443/mutate-pods"}|url
excluded namespace not a name|webhook: {excludeNamespaces: [Kube_System]}|excludeNamespaces
issuerRef of an unknown kind|webhook: {certManager: {issuerRef: {name: ca, kind: Vault}}}|kind
issuerRef without a name|webhook: {certManager: {issuerRef: {kind: ClusterIssuer}}}|name
unknown webhook key (typo)|webhook: {failurePolicy: Fail}|failurePolicy
managed as a string|managed: {enabled: "yes"}|enabled
managed adopt rate 0|managed: {enabled: true, adoptRate: 0}|adoptRate
managed negative default|managed: {enabled: true, defaultTolerationSeconds: -1}|defaultTolerationSeconds
unknown managed key (typo)|managed: {enable: true}|enable
node agent device not under /dev|node: {enabled: true, devices: [nvidia0]}|devices
node agent interval 0|node: {enabled: true, interval: 0}|interval
unknown node agent key (typo)|node: {enable: true}|enable
act mode kill limit 0|node: {enabled: true, act: {enabled: true, maxKills: 0}}|maxKills
act selector with a comma|node: {enabled: true, act: {enabled: true, nodeSelector: {a: "b,c=d"}}}|nodeSelector
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
if "$helm" template firebreak "$chart" --kube-version "$kube_version" \
    --set managed.enabled=true --set webhook.enabled=false >/dev/null 2>"$work/bad.err"; then
  fail "template accepted managed.enabled without webhook.enabled"
elif grep -q "managed.enabled needs webhook.enabled" "$work/bad.err"; then
  pass "template rejects managed.enabled without the webhook"
else
  cat "$work/bad.err"; fail "managed without the webhook: unexpected error"
fi
if "$helm" template firebreak "$chart" --kube-version "$kube_version" \
    --set node.enabled=true --set node.act.enabled=true --set node.attribution=false >/dev/null 2>"$work/bad.err"; then
  fail "template accepted act mode without attribution"
elif grep -q "node.act.enabled needs node.attribution" "$work/bad.err"; then
  pass "template rejects act mode without attribution (it kills only a pod it has named)"
else
  cat "$work/bad.err"; fail "act without attribution: unexpected error"
fi
if "$helm" template firebreak "$chart" --kube-version 1.29.0 \
    --set node.enabled=true >/dev/null 2>"$work/bad.err"; then
  fail "template accepted node.restrictToOwnNode on Kubernetes 1.29"
elif grep -q "node.restrictToOwnNode needs Kubernetes 1.30" "$work/bad.err"; then
  pass "template rejects node.restrictToOwnNode before Kubernetes 1.30 (no policy, no node-name claim)"
else
  cat "$work/bad.err"; fail "node agent on 1.29: unexpected error"
fi
if "$helm" template firebreak "$chart" --kube-version "$kube_version" \
    --set metrics.port=9443 >/dev/null 2>"$work/bad.err"; then
  fail "template accepted metrics.port 9443 (the webhook's port)"
elif grep -q "webhook's port" "$work/bad.err"; then
  pass "template rejects metrics.port 9443 (the webhook's port)"
else
  cat "$work/bad.err"; fail "metrics.port 9443: unexpected error"
fi

step "RBAC: rendered roles == docs/operations.md table; code calls covered"
# The table's scope column says which role holds a row and when the chart grants it:
#   cluster      ClusterRole, always          scaleToZero  ClusterRole, with rbac.scaleToZero
#   webhookSelf  ClusterRole, with the webhook and webhook.certs=self
#   lease        Role in the Lease's namespace (leader election on)
#   secret       Role in the release namespace, with the webhook
#   secretSelf   Role in the release namespace, with the webhook and webhook.certs=self
#   restore      Role <fullname>-restore in the release namespace, with managed.enabled and
#                managed.restoreOnUninstall (the pre-delete hook Job, restore-job.yaml)
#   node         ClusterRole <fullname>-node, bound to the ServiceAccount <fullname>-node, with
#                node.enabled (firebreak-node's DaemonSet, node-rbac.yaml)
#   nodeStop     Role <fullname>-node-stop in the release namespace, bound to the ServiceAccount
#                <fullname>-node-stop, with node.enabled (the uninstall hook, node-stop-job.yaml)
# and "(name: the Lease's | the Secret's | the webhook configuration's | the Deployment's)" after
# the resource means the grant is limited to that one object by resourceNames.
cat >"$work/rbac.py" <<'EOF'
import json, re, sys, yaml
render, doc, variant = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
SCOPES = {"cluster": ("cluster", lambda v: True), "scaleToZero": ("cluster", lambda v: v["scale"]),
          "webhookSelf": ("cluster", lambda v: v["webhook"] and v["self"]),
          "lease": ("lease", lambda v: True), "secret": ("secret", lambda v: v["webhook"]),
          "secretSelf": ("secret", lambda v: v["webhook"] and v["self"]),
          "restore": ("restore", lambda v: v.get("restore", False)),
          "node": ("node", lambda v: v.get("node", False)),
          "nodeStop": ("nodeStop", lambda v: v.get("node", False))}
NAMED = {"the Lease's": "LEASE", "the Secret's": "SECRET", "the webhook configuration's": "MWC",
         "the Deployment's": "DEPLOYMENT", "the DaemonSet's": "DAEMONSET"}
text = open(doc).read()
m = re.search(r"<!-- rbac-table:begin -->(.*?)<!-- rbac-table:end -->", text, re.S)
if not m: sys.exit("no rbac-table markers in " + doc)
expected = set()
for line in m.group(1).strip().splitlines()[2:]:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    scope, group, res, verb = cells[0], cells[1].strip("`"), cells[2], cells[3].strip("`")
    group = "" if group == '""' else group
    if scope not in SCOPES: sys.exit("unknown scope %r in: %s" % (scope, line))
    role, granted_when = SCOPES[scope]
    if not granted_when(variant): continue
    mm = re.match(r"`([^`]+)`(?: \(name: (the [^)]+)\))?$", res)
    if not mm or (mm.group(2) and mm.group(2) not in NAMED): sys.exit("cannot parse resource cell: " + res)
    expected.add((role, group, mm.group(1), verb, NAMED[mm.group(2)] if mm.group(2) else "*"))
docs = [d for d in yaml.safe_load_all(open(render)) if d]
kinds = lambda k: [d for d in docs if d["kind"] == k]
lease_name = yaml.safe_load(kinds("ConfigMap")[0]["data"]["firebreak.yaml"])["leaderElection"]["name"]
args = [a for a in kinds("Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]]
secret_name = ([a.split("=", 1)[1] for a in args if a.startswith("--webhook-secret=")] or [None])[0]
mwc_name = ([d["metadata"]["name"] for d in kinds("MutatingWebhookConfiguration")] or [None])[0]
deployment_name = kinds("Deployment")[0]["metadata"]["name"]
daemonset_name = ([d["metadata"]["name"] for d in kinds("DaemonSet")] or [None])[0]
granted = set()
for d in kinds("ClusterRole") + kinds("Role"):
    name = d["metadata"]["name"]
    role = "nodeStop" if name.endswith("-node-stop") else "node" if name.endswith("-node") else "cluster" if d["kind"] == "ClusterRole" else "lease" if name.endswith("-leader-election") else "secret" if name.endswith("-webhook") else "restore" if name.endswith("-restore") else name
    for r in d.get("rules", []):
        if r.get("nonResourceURLs"): granted.add((role, "nonResourceURLs", str(r["nonResourceURLs"]), "*", "*"))
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    rn = r.get("resourceNames")
                    if rn is None: n = "*"
                    elif rn == [lease_name] and role == "lease": n = "LEASE"
                    elif rn == [secret_name] and role == "secret": n = "SECRET"
                    elif rn == [mwc_name] and role == "cluster" and res == "mutatingwebhookconfigurations": n = "MWC"
                    elif rn == [deployment_name] and role == "restore": n = "DEPLOYMENT"
                    elif rn == [daemonset_name] and role == "nodeStop": n = "DAEMONSET"
                    else: n = ",".join(rn)
                    granted.add((role, g, res, v, n))
wild = [g for g in granted if "*" in g[1:4]]
extra, missing = granted - expected, expected - granted
fmt = lambda t: "%-7s %-30s %-30s %-7s %s" % (t[0], t[1] or '""', t[2], t[3], "name=" + t[4] if t[4] != "*" else "")
print("  granted (%d rules):" % len(granted))
for t in sorted(granted): print("    " + fmt(t))
bad = False
for t in sorted(wild): print("  WILDCARD granted: " + fmt(t)); bad = True
for t in sorted(extra): print("  MORE than the table: " + fmt(t)); bad = True
for t in sorted(missing): print("  MISSING from the chart: " + fmt(t)); bad = True
# every binding points at one of the chart's roles and at the chart's ServiceAccount, every role is bound
# (firebreak-node's role, <fullname>-node, to the agent's own ServiceAccount of that name)
sas = {d["metadata"]["name"]: d["metadata"] for d in kinds("ServiceAccount")}
sa = kinds("Deployment")[0]["spec"]["template"]["spec"]["serviceAccountName"]
sa = sas[sa]
for kind, role in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
    roles = {(r["metadata"]["name"], r["metadata"].get("namespace")) for r in kinds(role)}
    bound = set()
    for b in kinds(kind):
        key = (b["roleRef"]["name"], b["metadata"].get("namespace"))
        want = sas.get(key[0]) if key[0].endswith(("-node", "-node-stop")) else sa
        ok = want is not None and b["roleRef"]["kind"] == role and key in roles and b["subjects"] == [
            {"kind": "ServiceAccount", "name": want["name"], "namespace": want["namespace"]}]
        bound.add(key)
        print("  %s %s %s -> %s %s, ServiceAccount %s" % ("ok  " if ok else "BAD ", kind, b["metadata"]["name"], role, key[0], b["subjects"]))
        bad |= not ok
    for r in sorted(roles - bound): print("  BAD  %s %s is bound by nothing" % (role, r[0])); bad = True
sys.exit(1 if bad else 0)
EOF
rbac_rows=$(sed -n '/rbac-table:begin/,/rbac-table:end/p' docs/operations.md | grep -c '^| [a-zA-Z]* |' || true)
rbac_ok=1
# name|helm arguments|what the table's scopes are granted with
for variant in \
    'defaults||{"scale": false, "webhook": true, "self": true}' \
    'rbac.scaleToZero=true|--set rbac.scaleToZero=true|{"scale": true, "webhook": true, "self": true}' \
    'webhook.certs=certManager|--set webhook.certs=certManager|{"scale": false, "webhook": true, "self": false}' \
    'webhook.enabled=false|--set webhook.enabled=false|{"scale": false, "webhook": false, "self": false}' \
    'managed.enabled=true|--set managed.enabled=true|{"scale": false, "webhook": true, "self": true, "restore": true}' \
    'managed.enabled=true restoreOnUninstall=false|--set managed.enabled=true --set managed.restoreOnUninstall=false|{"scale": false, "webhook": true, "self": true, "restore": false}' \
    'node.enabled=true|--set node.enabled=true|{"scale": false, "webhook": true, "self": true, "node": true}'; do
  IFS='|' read -r vname vargs vflags <<<"$variant"
  read -r -a args <<<"$vargs" || true
  echo "  -- $vname"
  if ! "$helm" template firebreak "$chart" --namespace firebreak-system --kube-version "$kube_version" \
         "${args[@]}" >"$work/render.rbac.yaml" 2>"$work/render.rbac.err" ||
     ! python3 "$work/rbac.py" "$work/render.rbac.yaml" docs/operations.md "$vflags"; then
    cat "$work/render.rbac.err"
    rbac_ok=0
  fi
done
if [ "$rbac_ok" = 1 ]; then
  pass "rendered RBAC == table ($rbac_rows rows; each scope only in its mode), bound to the chart's ServiceAccount"
else
  fail "rendered RBAC != table"
fi

# The other direction: every API call in the code is one the table covers, and every row is
# called. What this reads in controller/shell/*.c (keep new code in these forms, or extend this):
#   - kc_<verb>(CLIENT, &RESOURCE, ns, name, "subresource"|NULL, ...), CLIENT any expression
#     without a comma (c->client, w->client, client); kc_create(CLIENT, &RESOURCE, ns, ...);
#   - patch_object(c, &RESOURCE, ns, name, "subresource"|NULL, ...) (executor.c's helper);
#   - an informer or reflector: `.res = &RESOURCE` (informers.c's table) or
#     `.resource = &RESOURCE` (kc_reflector_options, also as o.watch.resource = &RESOURCE): list
#     and watch. A list/watch the table limits by name must send fieldSelector metadata.name=...
#     (RBAC authorizes it by name only then), so its file must contain "metadata.name=";
#   - scale.c's calls through `res` for each resource of its scale_targets list;
#   - kc_evict( = pods/eviction create; k8sclient's leader.c (Lease) and events.c (Events).
# firebreak-node (node/agent/*.c, the same forms; its kc_recorder: Events) may use only `node`
# rows, and every `node` row must be called there.
# Which rows a call may use: restore.c runs only in the uninstall hook (--restore-tolerations
# --stop-deployment), whose grants are the `restore` rows (limited to firebreak's own Deployment)
# plus the `cluster` ones; so its calls must be `restore` or `cluster` rows, the other files' calls
# any row but `restore`, and each `restore` row must be called from restore.c.
# RESOURCE is any `kc_resource NAME = { "group", "version", "plural", ...}` defined in
# k8sclient/src or controller/shell. A kc_<verb> call in any other form fails the check, so that
# no call escapes it.
if python3 - <<'EOF'
import re, sys, glob
defs = "".join(open(f).read() for f in glob.glob("k8sclient/src/*.c") + glob.glob("controller/shell/*.c"))
res = {n: (g, p) for n, g, p in re.findall(
    r'\bkc_resource\s+(\w+)\s*=\s*\{\s*"([^"]*)"\s*,\s*"[^"]*"\s*,\s*"([^"]*)"', defs)}
for need in ("KC_RES_NODES", "KC_RES_PODS", "FB_RES_QUARANTINES"):
    if need not in res: print("  cannot read the kc_resource definitions (%s)" % need); sys.exit(1)
verb = {"kc_get": "get", "kc_list": "list", "kc_create": "create", "kc_update": "update",
        "kc_patch": "patch", "kc_delete": "delete", "kc_watch": "watch"}
VERBS = r"(kc_get|kc_list|kc_create|kc_update|kc_patch|kc_delete|kc_watch)"
def resource(r, where):
    if r not in res: print("  unknown resource constant %s in %s" % (r, where)); sys.exit(1)
    return res[r]
def sub(rest, create):
    # the subresource: the string literal after ns and name (kc_create has none)
    m = None if create else re.match(r"[^,]*,[^,]*,\s*\"(\w+)\"", rest)
    return "/" + m.group(1) if m else ""
calls, listed, stripped = set(), {}, {}
restore_calls = set()   # (group, resource, verb) called by restore.c, the uninstall hook
node_calls = set()      # ... by firebreak-node (node/agent)
nodestop_calls = set()  # ... by its uninstall hook (node/agent/stop.c)
for f in sorted(glob.glob("controller/shell/*.c")) + sorted(glob.glob("node/agent/*.c")):
    src = open(f).read()
    code = stripped[f] = re.sub(r"/\*.*?\*/|//[^\n]*", "", src, flags=re.S)
    found = 0
    fcalls = set()   # this file's (group, resource, verb)
    for fn, r, rest in re.findall(r"\b" + VERBS + r"\(\s*[^,()]+,\s*&(\w+)\s*,([^;]*);", code):
        g, p = resource(r, f)
        fcalls.add((g, p + sub(rest, fn == "kc_create"), verb[fn])); found += 1
        if fn in ("kc_list", "kc_watch"): listed.setdefault((g, p), set()).add(f)
    for r, rest in re.findall(r"\bpatch_object\(\s*c,\s*&(\w+),([^;]*);", code):
        g, p = resource(r, f)
        fcalls.add((g, p + sub(rest, False), "patch"))
    for r in re.findall(r"\.res(?:ource)?\s*=\s*&(\w+)", code):
        g, p = resource(r, f)
        fcalls |= {(g, p, "list"), (g, p, "watch")}; listed.setdefault((g, p), set()).add(f)
    if f.endswith("/scale.c"):
        # scale.c (ScaleToZero) reaches the workloads of its `scale_targets` list through a
        # variable: each kc_<verb>(c, res, ns, name, NULL|"sub", ...) counts for every resource of it
        targets = re.search(r"scale_targets\[\]\s*=\s*\{(.*?)\};", code, re.S)
        scalable = re.findall(r"&(KC_RES_\w+)", targets.group(1)) if targets else []
        vcalls = re.findall(r"\b" + VERBS + r"\(\s*c,\s*res,\s*ns,\s*name,\s*(NULL|\"\w+\")", code)
        if not scalable: print("  scale.c: its scale_targets list is not in the form this check reads"); sys.exit(1)
        for fn, s in vcalls:
            for r in scalable:
                g, p = resource(r, f)
                fcalls.add((g, p + ("" if s == "NULL" else "/" + s.strip('"')), verb[fn]))
        found += len(vcalls)
    if f.endswith("/executor.c"):
        found += len(re.findall(r"\bkc_patch\(c->client, res, ns, name, subresource,", code))  # patch_object itself
    total = len(re.findall(r"\b" + VERBS + r"\(", code))
    if total != found:
        print("  %s: %d kc_<verb> call(s) not in a form this check reads (see the comment above it in scripts/check-chart.sh)" % (f, total - found))
        sys.exit(1)
    if re.search(r"\bkc_client_(do|stream)\(", code):
        print("  %s: a raw kc_client_do/kc_client_stream request; this check cannot see what it calls" % f); sys.exit(1)
    if re.search(r"\bkc_evict\(", code): fcalls.add(("", "pods/eviction", "create"))
    if f.startswith("node/"):
        if re.search(r"\bkc_recorder_new\(", code):
            fcalls |= {("events.k8s.io", "events", "create"), ("events.k8s.io", "events", "patch")}
        (nodestop_calls if f.endswith("/stop.c") else node_calls).update(fcalls)
        continue
    (restore_calls if f.endswith("/restore.c") else calls).update(fcalls)
if not restore_calls: print("  controller/shell/restore.c: no API call found (the uninstall hook's rows would be unchecked)"); sys.exit(1)
lead = open("k8sclient/src/leader.c").read(); ev = open("k8sclient/src/events.c").read()
if "KC_RES_LEASES" in lead:
    calls |= {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}
    if re.search(r'"(DELETE|PATCH)"', lead): print("  leader.c now sends DELETE/PATCH"); sys.exit(1)
if "KC_RES_EVENTS" in ev:
    calls |= {("events.k8s.io", "events", "create"), ("events.k8s.io", "events", "patch")}
    if "KC_RES_CORE_EVENTS" in ev: calls.add(("", "events", "create"))
table = open("docs/operations.md").read()
rows, restore_rows, cluster_rows, node_rows, nodestop_rows, by_name = set(), set(), set(), set(), set(), set()
for line in re.search(r"<!-- rbac-table:begin -->(.*?)<!-- rbac-table:end -->", table, re.S).group(1).splitlines()[3:]:
    c = [x.strip().strip("`") for x in line.strip().strip("|").split("|")]
    key = ("" if c[1] == '""' else c[1], re.match(r"`?([^` ]+)", c[2]).group(1), c[3])
    (restore_rows if c[0] == "restore" else node_rows if c[0] == "node" else
     nodestop_rows if c[0] == "nodeStop" else rows).add(key)
    if c[0] == "cluster": cluster_rows.add(key)
    if "(name:" in c[2] and c[3] in ("list", "watch"): by_name.add(key[:2])
missing = (calls - rows) | (restore_calls - restore_rows - cluster_rows) | (node_calls - node_rows) | (nodestop_calls - nodestop_rows)
for t in sorted(nodestop_calls): print("  stop.c     %-28s %-30s %-6s%s" % (t[0] or '""', t[1], t[2], "" if t in nodestop_rows else "   <- NOT A nodeStop ROW"))
if not node_calls: print("  node/agent: no API call found (the node rows would be unchecked)"); sys.exit(1)
for t in sorted(node_calls): print("  node/agent %-28s %-30s %-6s%s" % (t[0] or '""', t[1], t[2], "" if t in node_rows else "   <- NOT A node ROW"))
for t in sorted(calls): print("  code calls %-28s %-30s %s%s" % (t[0] or '""', t[1], t[2], "" if t in rows else "   <- NOT IN THE TABLE"))
for t in sorted(restore_calls):
    print("  restore.c  %-28s %-30s %-6s%s" % (t[0] or '""', t[1], t[2], "   (row: restore)" if t in restore_rows else "   (row: cluster)" if t in cluster_rows else "   <- NOT A restore OR cluster ROW"))
unused = (rows - calls) | {("restore",) + t for t in restore_rows - restore_calls} | {("node",) + t for t in node_rows - node_calls} | {("nodeStop",) + t for t in nodestop_rows - nodestop_calls}
for t in sorted(unused): print("  table row not found in the code: " + " ".join(t) + ("  (restore rows: called from restore.c only)" if t[0] == "restore" else ""))
unnamed = []
for gp in sorted(by_name):
    for f in sorted(listed.get(gp, ())):
        if "metadata.name=" not in stripped[f]:
            unnamed.append(f)
            print("  %s lists/watches %s without fieldSelector metadata.name=: the named grant refuses it" % (f, gp[1]))
sys.exit(1 if missing or unused or unnamed else 0)
EOF
then
  pass "every API call in controller/shell, node/agent, leader.c and events.c is in the table, and every row is used"
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
      scripts/go-tools.sh scripts/go-toolchain.sh scripts/install-deps.sh deploy/check-image.sh \
      scripts/build-image.sh scripts/check-fresh-debian.sh; then
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
