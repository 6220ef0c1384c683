{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "events-presenter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: fullnameOverride, else the release name when it contains the chart name, else <release>-<chart>. */}}
{{- define "events-presenter.fullname" -}}
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

{{- define "events-presenter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "events-presenter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "events-presenter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "events-presenter.labels" -}}
helm.sh/chart: {{ include "events-presenter.chart" . }}
{{ include "events-presenter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: presenter
app.kubernetes.io/part-of: events-stack
{{- end }}

{{- define "events-presenter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "events-presenter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The port the presenter listens on: config.PORT, else the application's default (8083). */}}
{{- define "events-presenter.port" -}}
{{- include "events-presenter.envValue" (.Values.config.PORT | default "8083") }}
{{- end }}

{{/* A config value as an environment string: whole numbers without exponent, booleans as true/false. */}}
{{- define "events-presenter.envValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}

{{/* Seconds in a Go duration (5m, 2m30s, 1.5h, 300s, 0); `d` counts days as the application does. */}}
{{- define "events-presenter.durationSeconds" -}}
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
{{- define "events-presenter.startupFailureThreshold" -}}
{{- if .Values.startupProbe.failureThreshold }}
{{- .Values.startupProbe.failureThreshold }}
{{- else }}
{{- $wait := include "events-presenter.durationSeconds" (.Values.config.DB_READY_TIMEOUT | default "2m") | int64 }}
{{- $period := .Values.startupProbe.periodSeconds | default 10 | int64 }}
{{- max 30 (ceil (divf (add $wait 60) $period) | int64) }}
{{- end }}
{{- end }}

{{/* Fails on a config key that must come from a Secret. */}}
{{- define "events-presenter.checkConfig" -}}
{{- range $key := list "DB_USER" "DB_PASS" "DATABASE_URL" "JWT_SIGN_KEY" }}
{{- if hasKey $.Values.config $key }}
{{- fail (printf "config.%s must not be set: secrets come from the Secrets named by dbSecret.name and jwtSecret.name" $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The database Secret: secret.name (the older charts' value) when set, else dbSecret.name. */}}
{{- define "events-presenter.dbSecretName" -}}
{{- .Values.secret.name | default .Values.dbSecret.name | default "krateo-db" }}
{{- end }}

{{/* Where user clientconfig Secrets live: config.AUTHN_NS, else the release namespace. */}}
{{- define "events-presenter.authnNamespace" -}}
{{- .Values.config.AUTHN_NS | default .Release.Namespace }}
{{- end }}
