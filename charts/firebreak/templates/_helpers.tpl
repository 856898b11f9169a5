{{/* Names, labels and the values derived in more than one template. */}}

{{- define "firebreak.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "firebreak.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "firebreak.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "firebreak.selectorLabels" -}}
app.kubernetes.io/name: {{ include "firebreak.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* firebreak-node's pods: a name of their own, so that no selector of the controller's
(Deployment, Services, PodDisruptionBudget, anti-affinity) ever matches them. */}}
{{- define "firebreak.nodeSelectorLabels" -}}
app.kubernetes.io/name: {{ include "firebreak.name" . }}-node
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: node-agent
{{- end -}}

{{- define "firebreak.labels" -}}
helm.sh/chart: {{ include "firebreak.chart" . }}
{{ include "firebreak.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: firebreak
{{- end -}}

{{- define "firebreak.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "firebreak.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Lease's namespace: config.leaderElection.namespace, else the release namespace. */}}
{{- define "firebreak.leaseNamespace" -}}
{{- default .Release.Namespace .Values.config.leaderElection.namespace -}}
{{- end -}}

{{- define "firebreak.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The admission webhook's names (docs/operations.md, "The quarantine gate"). The controller is told
each of them by flag (deployment.yaml), and the RBAC names the configuration and the Secret.
*/}}
{{- define "firebreak.webhookConfigName" -}}
{{- include "firebreak.fullname" . -}}
{{- end -}}

{{/* A Service name is a DNS label: at most 63 characters with the "-webhook" suffix. */}}
{{- define "firebreak.webhookServiceName" -}}
{{- printf "%s-webhook" (include "firebreak.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "firebreak.webhookSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "firebreak.fullname" .)) .Values.webhook.secretName -}}
{{- end -}}

{{/* self: firebreak keeps the certificates and the caBundle; certManager: cert-manager does. */}}
{{- define "firebreak.webhookSelfCerts" -}}
{{- if and .Values.webhook.enabled (eq .Values.webhook.certs "self") }}true{{ end -}}
{{- end -}}

{{/*
Namespaces the webhook is never called for, one per line: the control plane's own (kube-system,
kube-node-lease), firebreak's (the release namespace: a webhook must never gate the pods that
serve it), and webhook.excludeNamespaces.
*/}}
{{- define "firebreak.webhookExcludedNamespaces" -}}
{{- $ns := concat (list "kube-system" "kube-node-lease" .Release.Namespace) (.Values.webhook.excludeNamespaces | default list) | uniq -}}
{{- range $ns }}
- {{ . | quote }}
{{- end -}}
{{- end -}}
