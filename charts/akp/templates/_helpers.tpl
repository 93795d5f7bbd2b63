{{/*
Names and labels shared by every template. `akp.fullname` is the release-scoped prefix
of every object (the operator's and billing's ServiceAccounts and RBAC objects are
`<fullname>-operator` and `<fullname>-billing`; rbac-users.yaml uses the same helpers).
*/}}

{{- define "akp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "akp.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "akp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; `component` is operator, billing, audit or monitoring. */}}
{{- define "akp.labels" -}}
helm.sh/chart: {{ include "akp.chart" .root }}
app.kubernetes.io/name: {{ include "akp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: akp
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* The selector labels of a component's pods (stable across upgrades). */}}
{{- define "akp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "akp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "akp.operator.name" -}}
{{- printf "%s-operator" (include "akp.fullname" .) }}
{{- end }}

{{- define "akp.billing.name" -}}
{{- printf "%s-billing" (include "akp.fullname" .) }}
{{- end }}

{{- define "akp.audit.name" -}}
{{- printf "%s-audit" (include "akp.fullname" .) }}
{{- end }}

{{/* The Service the API server calls the webhooks through. */}}
{{- define "akp.webhook.serviceName" -}}
{{- printf "%s-operator-webhook" (include "akp.fullname" .) }}
{{- end }}

{{/* The Secret of the webhook serving certificate (self-managed or cert-manager's). */}}
{{- define "akp.webhook.secretName" -}}
{{- if .Values.webhooks.certManager.enabled }}
{{- printf "%s-operator-webhook-cert" (include "akp.fullname" .) }}
{{- else }}
{{- .Values.webhooks.selfManaged.secretName }}
{{- end }}
{{- end }}

{{- define "akp.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The ClusterRoles of the project roles that the operator binds (operator/src/rbac.rs),
and nothing else: the digitalization head has its own role, not the built-in `admin`. */}}
{{- define "akp.projectClusterRoles" -}}
- akp:environment-viewer
- akp:environment-developer
- akp:environment-administrator
- akp:environment-security-officer
- akp:product-editor
- akp:digitalization-head
{{- end }}

{{/* The pod security context of every component: non-root, no privilege escalation. */}}
{{- define "akp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "akp.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end }}

{{/* The environment variable of the audit database, when the audit trail is on. */}}
{{- define "akp.auditEnv" -}}
{{- if .Values.audit.enabled }}
- name: AKP_AUDIT_DB
  valueFrom:
    secretKeyRef:
      name: {{ required "audit.database.existingSecret is required when audit.enabled (R-MON-02)" .Values.audit.database.existingSecret }}
      key: {{ .Values.audit.database.secretKey }}
{{- end }}
- name: AKP_MAX_CLOCK_OFFSET_MS
  value: {{ .Values.audit.maxClockOffsetMs | int | quote }}
{{- end }}

{{/* rbac.rs workload_rules(verbs): the argument is the list of verbs. Endpoints are
read only (readOnlyExtras). */}}
{{- define "akp.workloadRules" -}}
{{- $verbs := . | join ", " -}}
- apiGroups: [""]
  resources: [pods, services, configmaps, persistentvolumeclaims]
  verbs: [{{ $verbs }}]
- apiGroups: [apps]
  resources: [deployments, statefulsets, replicasets, daemonsets]
  verbs: [{{ $verbs }}]
- apiGroups: [batch]
  resources: [jobs, cronjobs]
  verbs: [{{ $verbs }}]
- apiGroups: [networking.k8s.io]
  resources: [ingresses]
  verbs: [{{ $verbs }}]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [{{ $verbs }}]
{{- end }}

{{/* rbac.rs read_only_extras(). */}}
{{- define "akp.readOnlyExtras" -}}
- apiGroups: [""]
  resources: [pods/log, events, resourcequotas, limitranges, endpoints]
  verbs: [get, list, watch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
{{- end }}

{{/* rbac.rs product_rules(): the agency's products, their status and events. */}}
{{- define "akp.productRules" -}}
- apiGroups: [akp.egov.kz]
  resources: [platformsoftwareproducts]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [akp.egov.kz]
  resources: [platformsoftwareproducts/status, usagestatements]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [get, list, watch]
{{- end }}
