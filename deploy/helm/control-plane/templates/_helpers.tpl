{{- define "cp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cp.fullname" -}}
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

{{- define "cp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "cp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: control-plane
{{- end -}}

{{- define "cp.configSecretName" -}}
{{- default (printf "%s-config" (include "cp.fullname" .)) .Values.config.existingSecret -}}
{{- end -}}

{{- define "cp.validate" -}}
{{- if not (has .Values.datastore.type (list "sqlite" "postgres")) -}}
{{- fail (printf "datastore.type must be sqlite or postgres, got %q" .Values.datastore.type) -}}
{{- end -}}
{{- if and (gt (int .Values.replicas) 1) (ne .Values.datastore.type "postgres") -}}
{{- fail "replicas > 1 needs datastore.type=postgres: SQLite is a single process's file" -}}
{{- end -}}
{{- if and (eq .Values.datastore.type "postgres") (not .Values.datastore.postgres.urlSecret.name) -}}
{{- fail "datastore.type=postgres needs datastore.postgres.urlSecret.name: a Secret with the connection URL" -}}
{{- end -}}
{{- if and (eq .Values.datastore.type "postgres") (not .Values.bootstrapAdminKey.existingSecret.name) -}}
{{- fail "datastore.type=postgres needs bootstrapAdminKey.existingSecret.name: a generated key would be written inside one pod only" -}}
{{- end -}}
{{- range .Values.config.users -}}
{{- if not (and .username .passwordHash .role) -}}
{{- fail "each of config.users needs username, passwordHash (pipecd-server hash-password) and role" -}}
{{- end -}}
{{- if not (has .role (list "viewer" "editor" "admin")) -}}
{{- fail (printf "config.users %s: role must be viewer, editor or admin, got %q" .username .role) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Whether users reach the web UI over HTTPS: TLS on the listener or on the web Ingress. */}}
{{- define "cp.secureCookies" -}}
{{- if or .Values.tls.secretName (and .Values.ingress.enabled .Values.ingress.tls) -}}
true
{{- end -}}
{{- end -}}

{{/*
Annotations of an Ingress: the user's, plus ingress-nginx's backend protocol derived from the
listener (HTTPS/GRPCS when tls.secretName makes the pod serve TLS, else HTTP/GRPC) unless the user
set it. Call with (dict "ctx" $ "annotations" … "plain" "HTTP" "tls" "HTTPS").
*/}}
{{- define "cp.ingressAnnotations" -}}
{{- $a := deepCopy (default (dict) .annotations) -}}
{{- $key := "nginx.ingress.kubernetes.io/backend-protocol" -}}
{{- if not (hasKey $a $key) -}}
{{- $_ := set $a $key (ternary .tls .plain (not (empty .ctx.Values.tls.secretName))) -}}
{{- end -}}
{{- toYaml $a -}}
{{- end -}}
