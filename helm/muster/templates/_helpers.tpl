{{/* The chart's name, or nameOverride. */}}
{{- define "muster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's resource name: fullnameOverride, or release-chart (once). */}}
{{- define "muster.fullname" -}}
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

{{- define "muster.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selects the API pods only: the migration Job's pods carry another component. */}}
{{- define "muster.selectorLabels" -}}
app.kubernetes.io/name: {{ include "muster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end }}

{{- define "muster.commonLabels" -}}
helm.sh/chart: {{ include "muster.chart" . }}
app.kubernetes.io/name: {{ include "muster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: muster
{{- end }}

{{- define "muster.labels" -}}
{{ include "muster.commonLabels" . }}
app.kubernetes.io/component: api
{{- end }}

{{- define "muster.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret the pods read MUSTER_* secrets from: existingSecret, or the chart's own. */}}
{{- define "muster.secretName" -}}
{{- default (include "muster.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
"true" when the database is SQLite. From database.url when set; else from existingSecret's
MUSTER_DATABASE_URL when the chart can read it (install or upgrade against a cluster, by
someone allowed to read that Secret); else from database.driver.
*/}}
{{- define "muster.sqlite" -}}
{{- $url := .Values.database.url | default "" }}
{{- if and (not $url) .Values.existingSecret }}
{{- $secret := lookup "v1" "Secret" .Release.Namespace .Values.existingSecret | default dict }}
{{- $url = dig "data" "MUSTER_DATABASE_URL" "" $secret | b64dec }}
{{- end }}
{{- if $url }}
{{- hasPrefix "sqlite" $url }}
{{- else }}
{{- eq .Values.database.driver "sqlite" }}
{{- end }}
{{- end }}

{{/* True (rendered "true") when a Job migrates; pods then start without migrating. */}}
{{- define "muster.migrationJob" -}}
{{- and .Values.migrations.job (ne (include "muster.sqlite" .) "true") }}
{{- end }}

{{/* Refuse what cannot work, with a message that says what to change. */}}
{{- define "muster.validate" -}}
{{- $_ := required "muster: set database.url (postgresql+asyncpg://user:password@host:5432/muster) or existingSecret (a Secret with the key MUSTER_DATABASE_URL)" (or .Values.database.url .Values.existingSecret) }}
{{- if and .Values.database.url .Values.existingSecret }}
{{- fail "muster: set database.url or existingSecret, not both: with existingSecret the URL is that Secret's MUSTER_DATABASE_URL" }}
{{- end }}
{{- if eq (include "muster.sqlite" .) "true" }}
{{- $workers := int (default "1" (index .Values.config "MUSTER_WORKERS")) }}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) (gt $workers 1) }}
{{- fail (printf "muster: SQLite serves one process only, but replicaCount=%v, autoscaling.enabled=%v, MUSTER_WORKERS=%v; use PostgreSQL, or set replicaCount=1, autoscaling.enabled=false and MUSTER_WORKERS=1" .Values.replicaCount .Values.autoscaling.enabled $workers) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by the Deployment and the migration Job. */}}
{{- define "muster.podPlacement" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
