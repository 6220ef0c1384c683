{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "events-ingester.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: fullnameOverride, else the release name when it contains the chart name, else <release>-<chart>. */}}
{{- define "events-ingester.fullname" -}}
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

{{- define "events-ingester.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "events-ingester.selectorLabels" -}}
app.kubernetes.io/name: {{ include "events-ingester.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "events-ingester.labels" -}}
helm.sh/chart: {{ include "events-ingester.chart" . }}
{{ include "events-ingester.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: ingester
app.kubernetes.io/part-of: events-stack
{{- end }}

{{- define "events-ingester.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "events-ingester.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The port the ingester listens on: config.PORT, else the application's default (8080). */}}
{{- define "events-ingester.port" -}}
{{- include "events-ingester.envValue" (.Values.config.PORT | default "8080") }}
{{- end }}

{{/* A config value as an environment string: whole numbers without exponent, booleans as true/false. */}}
{{- define "events-ingester.envValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}

{{/* Seconds in a Go duration (5m, 2m30s, 1.5h, 300s, 0); `d` counts days as the application does. */}}
{{- define "events-ingester.durationSeconds" -}}
{{- $total := 0.0 }}
{{- range regexFindAll "[0-9]*\\.?[0-9]+(ms|s|m|h|d)" (toString .) -1 }}
{{- $number := regexFind "^[0-9]*\\.?[0-9]+" . | float64 }}
{{- $unit := regexFind "(ms|s|m|h|d)$" . }}
{{- $scale := get (dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 "d" 86400.0) $unit }}
{{- $total = addf $total (mulf $number $scale) }}
{{- end }}
{{- ceil $total | int64 }}
{{- end }}

{{/* Startup probe failures allowed: enough periods for DB_READY_TIMEOUT (default 2m) plus one minute. */}}
{{- define "events-ingester.startupFailureThreshold" -}}
{{- if .Values.startupProbe.failureThreshold }}
{{- .Values.startupProbe.failureThreshold }}
{{- else }}
{{- $wait := include "events-ingester.durationSeconds" (.Values.config.DB_READY_TIMEOUT | default "2m") | int64 }}
{{- $period := .Values.startupProbe.periodSeconds | default 10 | int64 }}
{{- max 30 (ceil (divf (add $wait 60) $period) | int64) }}
{{- end }}
{{- end }}

{{/* Fails on a config key that must come from a Secret. */}}
{{- define "events-ingester.checkConfig" -}}
{{- range $key := list "DB_USER" "DB_PASS" "DATABASE_URL" }}
{{- if hasKey $.Values.config $key }}
{{- fail (printf "config.%s must not be set: credentials come from the Secret named by secret.name" $key) }}
{{- end }}
{{- end }}
{{- end }}
