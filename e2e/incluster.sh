# shellcheck shell=bash
# Sourced by the incluster-* scenarios (issue 14): firebreak as its users run it. The image is
# built from deploy/Dockerfile (scripts/build-image.sh), imported into the real node's containerd
# (e2e/realnode.sh), and installed with `helm install` from charts/firebreak: the chart's
# ServiceAccount, RBAC, Deployment (2 replicas, leader election), PDB, priority class, probes, and
# its admission webhook, which the API server reaches through the chart's Service (kube-proxy on
# the real node), not a loopback URL. Values: e2e/manifests/incluster-values.yaml.

IC_RELEASE=firebreak
IC_NAMESPACE=firebreak-system
IC_IMAGE_ARCHIVE="${REPO_DIR}/build/image/firebreak.docker.tar"

ic_helm() {
  local helm
  # shellcheck source=../scripts/go-tools.sh
  helm="$(source "${REPO_DIR}/scripts/go-tools.sh" && fb_tool helm)" || return 1
  KUBECONFIG="${KUBECONFIG_PATH}" "${helm}" "$@"
}

# ic_image: the image (built by run.sh before the cluster started, or by test.sh's image step)
# imported into the real node's containerd
ic_image() {
  step "import the image (scripts/build-image.sh's) into the real node's containerd"
  local t0=${SECONDS}
  [[ -f "${IC_IMAGE_ARCHIVE}" ]] || { echo "no image at ${IC_IMAGE_ARCHIVE}" >&2; return 1; }
  "${E2E_DIR}/realnode.sh" import "${IC_IMAGE_ARCHIVE}"
  summary image "$(du -h "${IC_IMAGE_ARCHIVE}" | cut -f1) archive imported in $((SECONDS - t0)) s"
}

# ic_install [HELM ARGS...]: helm install --wait, then the pods checked as the chart runs them
ic_install() {
  step "helm install ${IC_RELEASE} charts/firebreak -n ${IC_NAMESPACE} --create-namespace $*"
  local t0=${SECONDS}
  apply_crds >/dev/null # e2ectl's CRDs are the chart's (crds/): helm skips those it finds
  ic_helm install "${IC_RELEASE}" "${REPO_DIR}/charts/firebreak" -n "${IC_NAMESPACE}" --create-namespace \
    -f "${E2E_DIR}/manifests/incluster-values.yaml" --wait --timeout 3m "$@" >"${LOG_DIR}/helm-install.log" 2>&1 ||
    { cat "${LOG_DIR}/helm-install.log" >&2; ic_diagnose; return 1; }
  summary install "helm install --wait returned after $((SECONDS - t0)) s"
  # the API server calls the webhook through the chart's Service, not a URL
  local cc
  cc="$(e2ectl get mutatingwebhookconfiguration "${IC_RELEASE}" -o 'jsonpath={.webhooks[0].clientConfig.service.namespace}/{.webhooks[0].clientConfig.service.name}:{.webhooks[0].clientConfig.service.port} url={.webhooks[0].clientConfig.url}')"
  [[ "${cc}" == "${IC_NAMESPACE}/${IC_RELEASE}-webhook:443 url=" ]] ||
    { echo "the webhook is not called through the chart's Service: ${cc}" >&2; return 1; }
  ic_check_pods 2
  # the chart's PodDisruptionBudget (maxUnavailable 1) in force over the two replicas
  e2ectl wait-for poddisruptionbudget "${IC_RELEASE}" -n "${IC_NAMESPACE}" \
    --jsonpath '{.status.currentHealthy}/{.status.disruptionsAllowed}' --equals 2/1 --timeout 30s >/dev/null
  ic_wait_leader "" 60 >/dev/null
}

# ic_pods [node-agent]: the release's controller pods (or with node-agent, its firebreak-node
# DaemonSet's), "name node phase ready" per line
ic_pods() {
  local pods
  pods="$(e2ectl get pods -n "${IC_NAMESPACE}" -o 'jsonpath={range .items[?(@.metadata.labels.app\.kubernetes\.io/instance=="'"${IC_RELEASE}"'")]}{.metadata.name}{" "}{.spec.nodeName}{" "}{.status.phase}{" "}{.status.containerStatuses[0].ready}{" "}{.metadata.deletionTimestamp}{"\n"}{end}')" || return 1
  if [[ "${1:-}" == node-agent ]]; then
    grep "^${IC_RELEASE}-node-" <<<"${pods}" || true
  else
    grep -v "^${IC_RELEASE}-node-" <<<"${pods}" || true
  fi
}

ic_diagnose() {
  echo "---- pods of ${IC_NAMESPACE}" >&2
  e2ectl get pods -n "${IC_NAMESPACE}" -o wide >&2 || true
  echo "---- events of ${IC_NAMESPACE}" >&2
  e2ectl events -n "${IC_NAMESPACE}" 2>/dev/null | tail -20 >&2 || true
  echo "---- container logs" >&2
  "${E2E_DIR}/realnode.sh" logs "${IC_RELEASE}" 2>/dev/null | tail -40 >&2 || true
}

# ic_check_pods N [quiet]: N Ready pods on the real node, each running as the chart says: uid/gid 65532,
# no capabilities, a read-only root, no privilege escalation, the kubelet's projected token (not
# a long-lived Secret), the priority class, in-cluster config (no kubeconfig flag)
ic_check_pods() {
  local want="$1" name node phase ready rest n=0 pid status
  while read -r name node phase ready rest; do
    [[ -n "${name}" && -z "${rest}" ]] || continue
    [[ "${node}" == fb-real-0 && "${phase}" == Running && "${ready}" == true ]] ||
      { echo "pod ${name}: node ${node}, ${phase}, ready=${ready}" >&2; return 1; }
    n=$((n + 1))
  done < <(ic_pods)
  ((n == want)) || { echo "${n} Ready firebreak pods, not ${want}" >&2; ic_pods >&2; return 1; }
  # the processes themselves, on the real node (this machine)
  local -a pids
  mapfile -t pids < <(pgrep -x firebreak -U 65532 || true)
  ((${#pids[@]} >= want)) || { echo "${#pids[@]} firebreak processes run as uid 65532, not ${want}" >&2; return 1; }
  local mounts cmdline
  for pid in "${pids[@]}"; do
    # read everything first: a replica of a terminating pod may exit meanwhile (then skip it)
    status="$(cat "/proc/${pid}/status" 2>/dev/null)" || continue
    mounts="$(cat "/proc/${pid}/mountinfo" 2>/dev/null)" || continue
    cmdline="$(tr '\0' '\n' <"/proc/${pid}/cmdline" 2>/dev/null)" || continue
    grep -qE '^Uid:\s+65532\s+65532\s+65532\s+65532$' <<<"${status}" || { echo "pid ${pid}: not uid 65532" >&2; return 1; }
    grep -qE '^Gid:\s+65532\s+65532\s+65532\s+65532$' <<<"${status}" || { echo "pid ${pid}: not gid 65532" >&2; return 1; }
    grep -qE '^CapEff:\s+0+$' <<<"${status}" || { echo "pid ${pid}: has capabilities" >&2; return 1; }
    grep -qE '^CapBnd:\s+0+$' <<<"${status}" || { echo "pid ${pid}: a non-empty bounding set" >&2; return 1; }
    grep -qE '^NoNewPrivs:\s+1$' <<<"${status}" || { echo "pid ${pid}: may gain privileges" >&2; return 1; }
    awk '$5 == "/" { found = 1; if ($6 !~ /(^|,)ro(,|$)/) exit 1 } END { exit !found }' <<<"${mounts}" ||
      { echo "pid ${pid}: the root file system is writable" >&2; return 1; }
    awk '$5 ~ /^(\/var)?\/run\/secrets\/kubernetes.io\/serviceaccount$/ { found = 1 } END { exit !found }' <<<"${mounts}" ||
      { echo "pid ${pid}: no service account token mounted" >&2; return 1; }
    if grep -qE -- '^--kubeconfig' <<<"${cmdline}"; then
      echo "pid ${pid}: runs with a kubeconfig, not in-cluster" >&2
      return 1
    fi
  done
  local pod
  pod="$(ic_pods | awk 'NR == 1 { print $1 }')"
  [[ "$(e2ectl get pod "${pod}" -n "${IC_NAMESPACE}" -o 'jsonpath={.spec.priorityClassName}')" == system-cluster-critical ]] ||
    { echo "pod ${pod}: not system-cluster-critical" >&2; return 1; }
  [[ "$(e2ectl get pod "${pod}" -n "${IC_NAMESPACE}" -o 'jsonpath={.spec.volumes[*].projected.sources[*].serviceAccountToken.expirationSeconds}')" =~ ^[0-9]+ ]] ||
    { echo "pod ${pod}: no projected, expiring service account token" >&2; return 1; }
  [[ "${2:-}" == quiet ]] || summary pods "${n} Ready on fb-real-0: uid/gid 65532, no capabilities, read-only root, no new privileges, projected token, system-cluster-critical"
}

# ic_leader: the pod holding the Lease (its identity is <hostname>_<random>)
ic_leader() {
  local id
  id="$(e2ectl get lease "${IC_RELEASE}" -n "${IC_NAMESPACE}" -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null)" || return 1
  [[ -n "${id}" ]] || return 1
  printf '%s\n' "${id%_*}"
}

# ic_wait_leader [NOT_POD] [TIMEOUT_S]: prints the leader once one holds the Lease (other than NOT_POD)
ic_wait_leader() {
  local not="${1:-}" timeout="${2:-60}" i l
  for ((i = 0; i < timeout * 5; i++)); do
    l="$(ic_leader || true)"
    if [[ -n "${l}" && "${l}" != "${not}" ]]; then
      printf '%s\n' "${l}"
      return 0
    fi
    sleep 0.2
  done
  echo "no leader${not:+ other than ${not}} within ${timeout} s" >&2
  return 1
}

# ic_uninstall: helm uninstall --wait, then exactly what the docs say remains (docs/operations.md,
# "Uninstall"): the CRDs, the objects of their kinds, the release namespace (helm does not delete
# a namespace it created with --create-namespace) with firebreak's Lease and webhook Secret in it,
# and the Events. No webhook configuration, no ClusterRole/Binding, no pod, Deployment, Service,
# ConfigMap, ServiceAccount, Role or PDB of the release.
ic_uninstall() {
  step "helm uninstall ${IC_RELEASE}"
  local t0=${SECONDS} left
  ic_helm uninstall "${IC_RELEASE}" -n "${IC_NAMESPACE}" --wait --timeout 5m >"${LOG_DIR}/helm-uninstall.log" 2>&1 ||
    { cat "${LOG_DIR}/helm-uninstall.log" >&2; return 1; }
  # the Deployment is gone when helm returns; its pods go with the garbage collector, within their
  # grace period (firebreak hands the Lease over and exits on SIGTERM)
  local i t_helm=$((SECONDS - t0))
  for ((i = 0; i < 60; i++)); do
    [[ -z "$(ic_pods)$(ic_pods node-agent)" ]] && break
    sleep 1
  done
  [[ -z "$(ic_pods)$(ic_pods node-agent)" ]] ||
    { echo "firebreak's pods still there 60 s after helm uninstall" >&2; ic_pods >&2; ic_pods node-agent >&2; return 1; }
  summary uninstall "helm uninstall --wait returned after ${t_helm} s, the last pod gone ${i} s later"
  local k names
  left=""
  # cluster-scoped kinds the chart makes (and webhook kinds it might), by the release's name
  for k in clusterroles clusterrolebindings mutatingwebhookconfigurations validatingwebhookconfigurations \
    validatingadmissionpolicies validatingadmissionpolicybindings; do
    names="$(e2ectl get "${k}" -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}')" ||
      { echo "cannot list ${k}" >&2; return 1; }
    left+="$(sed -n "s/^\(${IC_RELEASE}.*\)/${k}\/\1/p" <<<"${names}")"$'\n'
  done
  # every namespaced kind the chart or firebreak makes, in the release namespace
  for k in pods deployments replicasets daemonsets services configmaps serviceaccounts roles rolebindings \
    poddisruptionbudgets jobs secrets leases servicemonitors; do
    [[ "${k}" == servicemonitors ]] && ! e2ectl get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1 && continue
    names="$(e2ectl get "${k}" -n "${IC_NAMESPACE}" -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}')" ||
      { echo "cannot list ${k} in ${IC_NAMESPACE}" >&2; return 1; }
    left+="$(sed -n "/./s/^/${k}\//p" <<<"${names}")"$'\n'
  done
  left="$(sed -e '/^$/d' -e '/^configmaps\/kube-root-ca.crt$/d' -e '/^serviceaccounts\/default$/d' <<<"${left}")"
  local expected
  expected="$(printf '%s\n' "secrets/${IC_RELEASE}-webhook-tls" "leases/${IC_RELEASE}")"
  if [[ "$(sort <<<"${left}")" != "$(sort <<<"${expected}")" ]]; then
    echo "left after helm uninstall:" >&2
    printf '%s\n' "${left}" >&2
    echo "expected exactly:" >&2
    printf '%s\n' "${expected}" >&2
    return 1
  fi
  e2ectl get crd quarantines.firebreak.dev >/dev/null || { echo "the Quarantine CRD went" >&2; return 1; }
  summary left "$(paste -sd' ' <<<"${left}") (and the CRDs), as docs/operations.md says"
}
