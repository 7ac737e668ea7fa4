{{/* Name of the chart, overridable. */}}
{{- define "piped.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-chart unless the release name already contains the chart name. */}}
{{- define "piped.fullname" -}}
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

{{- define "piped.selectorLabels" -}}
app.kubernetes.io/name: {{ include "piped.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "piped.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "piped.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: piped
{{- end -}}

{{/*
Name of the RBAC objects: prefixed with the release namespace, so that pipeds released under
the same name in two namespaces do not share (and overwrite) one ClusterRole, or one Role in a
namespace both deploy to.
*/}}
{{- define "piped.rbacName" -}}
{{- printf "%s-%s" .Release.Namespace (include "piped.fullname" .) -}}
{{- end -}}

{{- define "piped.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "piped.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Required values, checked once (every template includes this). */}}
{{- define "piped.validate" -}}
{{- if not .Values.controlPlane.address -}}
{{- fail "controlPlane.address is required: the control plane's gRPC host:port, e.g. pipecd.example.com:443" -}}
{{- end -}}
{{- if not (regexMatch "^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):[0-9]{1,5}$" .Values.controlPlane.address) -}}
{{- fail (printf "controlPlane.address must be host:port, got %q" .Values.controlPlane.address) -}}
{{- end -}}
{{- if not .Values.pipedId -}}
{{- fail "pipedId is required: the id shown when the piped was registered" -}}
{{- end -}}
{{- if and .Values.pipedKey.value .Values.pipedKey.existingSecret.name -}}
{{- fail "give only one of pipedKey.value and pipedKey.existingSecret.name" -}}
{{- end -}}
{{- if not (or .Values.pipedKey.value .Values.pipedKey.existingSecret.name) -}}
{{- fail "a piped key is required: pipedKey.existingSecret.name (recommended) or pipedKey.value" -}}
{{- end -}}
{{- if not (has .Values.rbac.scope (list "cluster" "namespace")) -}}
{{- fail (printf "rbac.scope must be cluster or namespace, got %q" .Values.rbac.scope) -}}
{{- end -}}
{{- if and .Values.git.sshKeySecret.name (not (and .Values.git.sshKeySecret.key .Values.git.sshKeySecret.knownHostsKey)) -}}
{{- fail "git.sshKeySecret needs key (the private key) and knownHostsKey (the hosts' keys): ssh never trusts an unknown host here" -}}
{{- end -}}
{{- if and .Values.rbac.create (eq .Values.rbac.scope "namespace") (empty .Values.rbac.namespaces) -}}
{{- fail "rbac.scope=namespace needs rbac.namespaces: the namespaces the piped may deploy to" -}}
{{- end -}}
{{- end -}}

{{/* The piped config (kind Piped): in-cluster access, the key inline or from a mounted Secret. */}}
{{- define "piped.config" -}}
{{- $spec := dict
  "projectID" .Values.projectId
  "pipedID" .Values.pipedId
  "apiAddress" .Values.controlPlane.address
  "syncInterval" .Values.syncInterval
  "repositories" .Values.repositories
-}}
{{- $provider := dict "name" .Values.platformProvider.name "type" "KUBERNETES" "labels" .Values.platformProvider.labels }}
{{- with .Values.platformProvider.kubeConfigSecret.name }}
{{- $_ := set $provider "config" (dict "kubeConfigPath" (printf "/etc/piped-kubeconfig/%s" $.Values.platformProvider.kubeConfigSecret.key)) }}
{{- end }}
{{- $_ := set $spec "platformProviders" (list $provider) }}
{{- if .Values.pipedKey.value }}
{{- $_ := set $spec "pipedKeyData" (b64enc .Values.pipedKey.value) }}
{{- else }}
{{- $_ := set $spec "pipedKeyFile" (printf "/etc/piped-key/%s" .Values.pipedKey.existingSecret.key) }}
{{- end }}
{{- with .Values.secretManagement.existingSecret }}
{{- if .name }}
{{- $_ := set $spec "secretManagement" (dict "type" "KEY_PAIR" "config" (dict "privateKeyFile" (printf "/etc/piped-secret/%s" .privateKeyKey) "publicKeyFile" (printf "/etc/piped-secret/%s" .publicKeyKey))) }}
{{- end }}
{{- end }}
{{- $spec = mergeOverwrite $spec .Values.extraConfig -}}
apiVersion: pipecd.dev/v1beta1
kind: Piped
spec:
  {{- toYaml $spec | nindent 2 }}
{{- end -}}

{{/*
The Kubernetes permissions the piped uses, and no more (PipeCD's chart grants * on *). One rule
per resource. test/helm/rbac.test.ts runs the seed-shaped Istio canary with these rules under
kube-sim's RBAC and shows that removing any one deploying rule makes it fail, that the read-only
rules put ReplicaSets and Pods in the live state, and that every granted verb was called by that
run or is in its short allowlist of verbs for other paths.
- get: owner check before delete (only objects whose pipecd.dev/resource-key matches), reading
  the VirtualService back after a traffic split, rollout status.
- list + watch: the live state and drift detection (docs/live-state.md) watch the kinds the apps'
  manifests name, and what Deployments create (ReplicaSets, Pods), in the manifests' namespaces;
  Secrets are kept as hashes of their values, never in clear. Watching Deployments also serves
  rollout waits.
- create + patch: server-side apply (an apply that creates needs both).
- delete: canary clean, prune, and rollback removing what the failed commit added.
Not granted because the piped never calls them: update, deletecollection, Events, Namespaces.
*/}}
{{- define "piped.rules" -}}
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.istio.io]
  resources: [virtualservices]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.istio.io]
  resources: [destinationrules]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.istio.io]
  resources: [gateways]
  verbs: [get, list, watch, create, patch, delete]
# Live state only (docs/live-state.md): what the apps' Deployments create.
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
{{- end -}}
