#!/usr/bin/env bash
# Checks docs/monitoring/: exit status 0 = all good.
#   1. promtool check rules + promtool test rules on the alert rules
#   2. the Grafana dashboard: valid JSON, sane structure (unique panel ids, data source variable,
#      grid inside 24 columns), every PromQL expression parses (promtool, as recording rules with
#      Grafana's variables substituted)
#   3. every metric that the rules and the dashboard use is one controller/shell/telemetry.c
#      defines (metrics_setup); defined metrics the dashboard does not show are listed
# promtool is built from the Go module proxy on first use (scripts/go-tools.sh), then cached.
# Usage: scripts/check-monitoring.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/go-tools.sh
. scripts/go-tools.sh
export PATH="$PATH:/usr/local/go/bin"

dir=docs/monitoring
rules=$dir/prometheus-rules.yaml
tests=$dir/prometheus-rules.test.yaml
dash=$dir/firebreak-dashboard.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }

promtool=$(fb_tool promtool)
"$promtool" --version 2>&1 | head -1

if "$promtool" check rules "$rules"; then pass "promtool check rules $rules"; else fail "promtool check rules"; fi
if (cd "$dir" && "$promtool" test rules "$(basename "$tests")"); then
  pass "promtool test rules $tests"
else
  fail "promtool test rules"
fi

# Dashboard structure, the metric names, and the expressions as a rules file for promtool.
if python3 - "$dash" "$rules" controller/shell/telemetry.c "$work/dashboard-exprs.yaml" <<'PY'
import json, re, sys
dash_path, rules_path, src_path, out = sys.argv[1:5]
bad = []
def check(ok, what):
    if not ok: bad.append(what); print("  NOT  " + what)
try:
    dash = json.load(open(dash_path))
except ValueError as e:
    print("  NOT  valid JSON: %s" % e); sys.exit(1)
print("  ok   valid JSON")
for k in ("uid", "title", "schemaVersion", "panels", "templating"):
    check(k in dash, "dashboard has %s" % k)
vars_ = {v["name"] for v in dash["templating"]["list"]}
check("datasource" in vars_ and any(v["type"] == "datasource" and v.get("query") == "prometheus"
      for v in dash["templating"]["list"]), "a Prometheus data source variable")
ids, exprs = set(), []
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
for p in walk(dash["panels"]):
    check(p["id"] not in ids, "panel id %s unique" % p["id"]); ids.add(p["id"])
    g = p["gridPos"]
    check(g["x"] + g["w"] <= 24 and g["w"] > 0 and g["h"] > 0, "panel %r inside the grid" % p["title"])
    if p["type"] == "row": continue
    check(p.get("datasource", {}).get("uid") == "${datasource}", "panel %r uses the data source variable" % p["title"])
    check(len(p.get("targets", [])) > 0, "panel %r has queries" % p["title"])
    for t in p.get("targets", []):
        check(bool(t.get("expr")), "panel %r query %s has an expr" % (p["title"], t.get("refId")))
        exprs.append((p["title"], t["refId"], t["expr"]))
for m in re.findall(r"\$\{?(\w+)", json.dumps(dash)):
    check(m in vars_ or m.startswith("__"), "variable $%s is defined" % m)
print("  ok   %d panels, %d queries" % (len(ids), len(exprs)))
# metrics defined in the code
src = open(src_path).read()
fams = re.findall(r'\{\s*"(firebreak_\w+)",\s*(FB_\w+)', src)
defined = set()
for name, typ in fams:
    defined |= {name + s for s in ("_bucket", "_sum", "_count")} if typ == "FB_HISTOGRAM" else {name}
check(len(fams) >= 10, "found the metric families in %s (%d)" % (src_path, len(fams)))
ident = re.compile(r"\bfirebreak_[a-z0-9_]+\b")
used_dash = set()
for title, ref, e in exprs:
    for n in ident.findall(e):
        used_dash.add(n)
        check(n in defined, "dashboard %r/%s: %s is defined in telemetry.c" % (title, ref, n))
import yaml
nrules = 0
for g in yaml.safe_load(open(rules_path))["groups"]:
    for r in g["rules"]:
        nrules += 1
        for n in ident.findall(r["expr"]):
            check(n in defined, "rule %s: %s is defined in telemetry.c" % (r.get("alert") or r.get("record"), n))
print("  ok   %d rules' metric names checked" % nrules)
base = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used_dash}
unused = sorted({n for n, _ in fams} - base)
print("  info metrics not on the dashboard: %s" % (", ".join(unused) or "none"))
# Grafana variables -> something promtool can parse
sub = [("$__rate_interval", "5m"), ("$__interval", "1m"), ("$__range", "1h"),
       ("$job", ".*"), ("$namespace", ".*")]
with open(out, "w") as f:
    f.write("groups:\n- name: dashboard-expressions\n  rules:\n")
    for i, (title, ref, e) in enumerate(exprs):
        for a, b in sub: e = e.replace(a, b)
        f.write("  - record: dashboard:expr_%d\n    expr: %s\n" % (i, json.dumps(e)))
sys.exit(1 if bad else 0)
PY
then
  pass "dashboard structure and metric names (every name defined in controller/shell/telemetry.c)"
else
  fail "dashboard"
fi
if "$promtool" check rules "$work/dashboard-exprs.yaml" >"$work/dash.log" 2>&1; then
  pass "every dashboard expression parses (promtool: $(grep -o '[0-9]* rules found' "$work/dash.log"))"
else
  cat "$work/dash.log"; fail "dashboard expressions do not parse"
fi

if [ "$failures" -eq 0 ]; then
  echo "check-monitoring: all checks passed"
else
  echo "check-monitoring: $failures check(s) failed"
  exit 1
fi
