# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# First contact speaks (issue 14): every reason firebreak cannot start or sync is logged at warn
# within seconds, with the error and the next try, and /readyz says which. Against the real
# control plane, one firebreak at a time:
#  1. the API server unreachable (a closed port);
#  2. TLS refused: the kubeconfig trusts another CA;
#  3. authentication refused: a token the API server does not know (401);
#  4. RBAC forbidden: a ServiceAccount with no role (403);
#  5. the CRDs missing: it syncs (they are optional) and says so;
#  6. the webhook's certificate not valid yet (cert-manager's clock ahead): said, not served,
#     /readyz not ready until it is.
SCENARIO_MODE=firebreak
SCENARIO_NODES=1
SCENARIO_DESCRIPTION="first contact: unreachable, TLS, 401, 403, CRDs missing, certificate not valid yet: each said within seconds"

FC_PORT=18090

# fc_kubeconfig FILE SERVER CA TOKEN: a kubeconfig of one cluster and one user.
fc_kubeconfig() {
  cat >"$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$2", certificate-authority: "$3"}
users:
- name: u
  user: {token: "$4"}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
YAML
}

# fc_expect NAME LOG_REGEX READYZ_REGEX ARGS...: start firebreak with ARGS; within 5 s its log
# has a warn line matching LOG_REGEX naming the next try, /readyz answers 503 (but with the
# CRDs missing, which are optional) and a line of it matches
# READYZ_REGEX (its first line says "caches not synced" unless the CRDs or the webhook are
# what is missing).
fc_expect() {
  local name="$1" log_re="$2" ready_re="$3" t0 ready
  shift 3
  t0=${SECONDS}
  start_bg "${name}" "${FB_BIN}" --metrics-addr "127.0.0.1:${FC_PORT}" --leader-elect=false "$@"
  if ! wait_for_log "${name}" "level=warn msg=\"${log_re}" 5; then
    cat "${LOG_DIR}/${name}.log" >&2
    echo "${name}: no warn line matching ${log_re} within 5 s" >&2
    return 1
  fi
  grep -m1 -E "level=warn msg=\"${log_re}" "${LOG_DIR}/${name}.log" | grep -Eq '(retry|valid)_in_s=[0-9.]+' ||
    { echo "${name}: the warn line does not say when it tries again" >&2; return 1; }
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${FC_PORT}/readyz" || true)"
  [[ "${name}" == no-crds || "${code}" == 503 ]] ||
    { echo "${name}: /readyz answered ${code}, not 503" >&2; return 1; }
  ready="$(curl -s "http://127.0.0.1:${FC_PORT}/readyz" || true)"
  printf '%s\n' "${ready}" | sed 's/^/  readyz: /'
  grep -Eq -- "${ready_re}" <<<"${ready}" ||
    { echo "${name}: /readyz does not match ${ready_re}" >&2; return 1; }
  case "${name}" in
    no-crds | cert-later) ;;
    *) [[ "$(head -1 <<<"${ready}")" == "caches not synced" ]] ||
         { echo "${name}: /readyz does not say the caches are not synced" >&2; return 1; } ;;
  esac
  summary "${name}" "said within $((SECONDS - t0)) s: $(grep -m1 -oE "msg=\"${log_re}[^\"]*\"" "${LOG_DIR}/${name}.log")"
  stop_proc "${name}"
}

scenario_run() {
  need_firebreak
  local server ca dir="${RUN_DIR}/first-contact"
  mkdir -p "${dir}"
  server="$(sed -n 's/^ *server: *//p' "${KUBECONFIG}" | head -1)"
  ca="$(sed -n 's/^ *certificate-authority: *//p' "${KUBECONFIG}" | head -1)"

  step "1. the API server unreachable"
  fc_kubeconfig "${dir}/closed.kubeconfig" "https://127.0.0.1:1" "${ca}" x
  fc_expect unreachable "cannot list and watch nodes: the API server is unreachable" \
    '^nodes: the API server is unreachable .*(next try in|trying again)' \
    --kubeconfig "${dir}/closed.kubeconfig" --webhook-addr ""

  step "2. TLS: the kubeconfig trusts another CA"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "${dir}/other-ca.key" -out "${dir}/other-ca.crt" \
    -days 1 -subj /CN=other-ca 2>/dev/null
  fc_kubeconfig "${dir}/other-ca.kubeconfig" "${server}" "${dir}/other-ca.crt" x
  fc_expect tls "cannot list and watch nodes: the API server's certificate does not verify" \
    'nodes: the API server.s certificate does not verify' \
    --kubeconfig "${dir}/other-ca.kubeconfig" --webhook-addr ""

  step "3. authentication refused (401)"
  fc_kubeconfig "${dir}/bad-token.kubeconfig" "${server}" "${ca}" "not-a-token-$RANDOM"
  fc_expect unauthorized "cannot list and watch nodes: the API server refused the credentials" \
    'nodes: the API server refused the credentials' \
    --kubeconfig "${dir}/bad-token.kubeconfig" --webhook-addr ""

  step "4. RBAC forbidden (403): a ServiceAccount with no role"
  e2ectl apply - <<'YAML'
apiVersion: v1
kind: ServiceAccount
metadata: {name: nobody, namespace: default}
YAML
  local token
  token="$(e2ectl token nobody)"
  fc_kubeconfig "${dir}/nobody.kubeconfig" "${server}" "${ca}" "${token}"
  fc_expect forbidden "cannot list and watch nodes: RBAC forbids it" \
    'nodes: RBAC forbids it \(403\).*cannot list resource' \
    --kubeconfig "${dir}/nobody.kubeconfig" --webhook-addr ""

  step "5. the CRDs missing: synced anyway, and said"
  fc_expect no-crds "cannot list and watch evictionbudgets: its CRD is not installed" \
    'evictionbudgets: its CRD is not installed' \
    --kubeconfig "${KUBECONFIG}" --webhook-addr ""

  step "6. the webhook's certificate not valid yet"
  fc_not_yet_valid_secret "${dir}"
  fc_expect cert-later "webhook certificate in the Secret is not valid yet" \
    'webhook not serving yet \(the Secret.s certificate: tls.crt is not valid now: not valid yet' \
    --kubeconfig "${KUBECONFIG}" --webhook-addr 127.0.0.1:19443 --webhook-certs external \
    --namespace "${FB_WEBHOOK_NAMESPACE}" --webhook-secret later-tls
}

# fc_not_yet_valid_secret DIR: a kubernetes.io/tls Secret later-tls in FB_WEBHOOK_NAMESPACE whose
# certificate (for 127.0.0.1, from a CA of its own) is valid from 10 minutes from now, as an
# issuer whose clock is ahead would make it (openssl ca -startdate).
fc_not_yet_valid_secret() {
  local d="$1/later" start
  mkdir -p "${d}" && : >"${d}/index.txt" && echo 01 >"${d}/serial"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "${d}/ca.key" -out "${d}/ca.crt" -days 2 \
    -subj /CN=later-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "${d}/tls.key" -out "${d}/tls.csr" -subj /CN=webhook \
    -addext subjectAltName=IP:127.0.0.1 2>/dev/null
  printf '[ca]\ndefault_ca=x\n[x]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=copy\n[p]\ncommonName=supplied\n' \
    "${d}" "${d}" "${d}" >"${d}/ca.cnf"
  start="$(date -u -d '+10 min' +%Y%m%d%H%M%SZ)"
  openssl ca -batch -config "${d}/ca.cnf" -cert "${d}/ca.crt" -keyfile "${d}/ca.key" \
    -in "${d}/tls.csr" -out "${d}/tls.crt" -startdate "${start}" -days 1 -notext 2>/dev/null
  e2ectl apply - <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: ${FB_WEBHOOK_NAMESPACE}}
---
apiVersion: v1
kind: Secret
metadata: {name: later-tls, namespace: ${FB_WEBHOOK_NAMESPACE}}
type: kubernetes.io/tls
data:
  ca.crt: $(base64 -w0 "${d}/ca.crt")
  tls.crt: $(base64 -w0 "${d}/tls.crt")
  tls.key: $(base64 -w0 "${d}/tls.key")
YAML
}
