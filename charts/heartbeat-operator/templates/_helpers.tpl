{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "heartbeat-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name of the release's objects. */}}
{{- define "heartbeat-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "heartbeat-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "heartbeat-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "heartbeat-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "heartbeat-operator.labels" -}}
helm.sh/chart: {{ include "heartbeat-operator.chart" . }}
{{ include "heartbeat-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: heartbeat-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "heartbeat-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "heartbeat-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "heartbeat-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Name of the leader election Lease. */}}
{{- define "heartbeat-operator.leaseName" -}}
{{- default (include "heartbeat-operator.fullname" .) .Values.leaderElection.id }}
{{- end }}

{{/*
Namespaced RBAC as YAML: namespace -> {capabilities: bool, configmaps: bool, configmapNames: [..]}.
- capabilities: Capability, status, finalizers, Events and EndpointSlices rules (watched
  namespaces; and, when namespaces are listed, the namespaces of named ConfigMaps, where their
  mirrors are created);
- configmaps: every ConfigMap may be read (the selector's ConfigMaps in a watched namespace);
- configmapNames: only these ConfigMaps may be read (named ConfigMaps not otherwise covered).
In cluster-wide mode the first two are in the ClusterRole instead.
*/}}
{{- define "heartbeat-operator.namespacedRbac" -}}
{{- $byNs := dict }}
{{- $selector := ne (toString .Values.configMapSelector) "" }}
{{- $clusterWide := empty .Values.watchNamespaces }}
{{- range .Values.watchNamespaces }}
{{- $_ := set $byNs . (dict "capabilities" true "configmaps" $selector "configmapNames" list) }}
{{- end }}
{{- range .Values.configMaps }}
{{- $parts := splitList "/" . }}
{{- $ns := index $parts 0 }}
{{- $name := index $parts 1 }}
{{- $entry := get $byNs $ns | default (dict "capabilities" false "configmaps" false "configmapNames" list) }}
{{- if not $clusterWide }}
{{- $_ := set $entry "capabilities" true }}
{{- end }}
{{- $covered := or $entry.configmaps (and $clusterWide $selector) }}
{{- if not $covered }}
{{- $_ := set $entry "configmapNames" (append $entry.configmapNames $name | uniq) }}
{{- end }}
{{- $_ := set $byNs $ns $entry }}
{{- end }}
{{- toYaml $byNs }}
{{- end }}

{{/* Rules on Capabilities, their status and finalizers, Events and (with checks) EndpointSlices. */}}
{{- define "heartbeat-operator.capabilityRules" -}}
# What the controller does, and only that (hack/chart/check-rbac.py compares these rules with
# the requests of a real run): informers list and watch; mirrors of ConfigMap entries are
# created, patched and deleted; finalizers are merge-patched; status is merge-patched on the
# status subresource; Events are created. capabilities/finalizers covers API servers that
# check finalizer changes separately (OwnerReferencesPermissionEnforcement).
- apiGroups: [chora.dev]
  resources: [capabilities]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [chora.dev]
  resources: [capabilities/status]
  verbs: [patch]
- apiGroups: [chora.dev]
  resources: [capabilities/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [events]
  # patch: a repeated event raises the count of the first one (event correlation)
  verbs: [create, patch]
{{- if .Values.checks.enabled }}
# serviceRef health checks count the ready endpoints of a Service: EndpointSlices, read-only.
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
{{- end }}
{{- end }}

{{- define "heartbeat-operator.configmapRules" -}}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
{{- end }}

{{/* Checks of values that the schema cannot express. */}}
{{- define "heartbeat-operator.validate" -}}
{{- if ge (int .Values.heartbeat.intervalSeconds) (int .Values.heartbeat.ttlSeconds) }}
{{- fail (printf "heartbeat.intervalSeconds (%v) must be below heartbeat.ttlSeconds (%v), or keys expire between heartbeats" .Values.heartbeat.intervalSeconds .Values.heartbeat.ttlSeconds) }}
{{- end }}
{{- with .Values.leaderElection }}
{{- if and (or .enabled (eq $.Values.shards "auto")) (not (and (gt (int .leaseDurationSeconds) (int .renewDeadlineSeconds)) (gt (int .renewDeadlineSeconds) (int .retryPeriodSeconds)))) }}
{{- fail "leaderElection: leaseDurationSeconds must exceed renewDeadlineSeconds, which must exceed retryPeriodSeconds" }}
{{- end }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) (ne .Values.shards "auto") }}
{{- fail "replicaCount > 1 needs leaderElection.enabled (or shards: auto): several leaders would heartbeat and write status at once" }}
{{- end }}
{{- if eq .Values.shards "auto" }}
{{- if ne .Values.heartbeat.leaseMode "per-capability" }}
{{- fail "shards: auto needs heartbeat.leaseMode per-capability: a replica hands a capability over by passing on its lease" }}
{{- end }}
{{- if ne .Values.onExit "keep" }}
{{- fail "shards: auto needs onExit keep: the other replicas adopt the keys of one that stops" }}
{{- end }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- if eq (int .Values.metrics.port) (int .Values.health.port) }}
{{- fail "metrics.port and health.port must differ" }}
{{- end }}
{{- with .Values.etcd.tls }}
{{- if and .secretName (ne (empty .certKey) (empty .keyKey)) }}
{{- fail "etcd.tls: set both certKey and keyKey (client certificate) or neither" }}
{{- end }}
{{- end }}
{{- end }}
