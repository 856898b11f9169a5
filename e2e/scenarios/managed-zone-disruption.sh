# shellcheck shell=bash disable=SC2034  # SCENARIO_* are read by run.sh
# zone-disruption.sh in managed mode (issue 13): Kubernetes' taint-eviction controller ON, as on EKS, GKE or
# AKS, and every firebreak replica --managed behind the real webhook, which covers each new pod's
# not-ready/unreachable tolerations. Every check of zone-disruption holds as in self-managed mode; then
# every live pod is covered and the taint-eviction controller deleted none (run.sh managed_variant).
managed_variant zone-disruption
