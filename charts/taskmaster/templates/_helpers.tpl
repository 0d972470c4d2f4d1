{{/* Names, labels and the small pieces every template shares. */}}

{{- define "taskmaster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-<chart>, or <release> when it already contains the chart name; 63 characters at most (DNS label). */}}
{{- define "taskmaster.fullname" -}}
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

{{/* <fullname>-<component>. Takes (dict "context" $ "component" "worker"). */}}
{{- define "taskmaster.componentFullname" -}}
{{- printf "%s-%s" (include "taskmaster.fullname" .context) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "taskmaster.scheduler.fullname" -}}
{{- include "taskmaster.componentFullname" (dict "context" . "component" "scheduler") }}
{{- end }}

{{- define "taskmaster.coordinator.fullname" -}}
{{- include "taskmaster.componentFullname" (dict "context" . "component" "coordinator") }}
{{- end }}

{{- define "taskmaster.worker.fullname" -}}
{{- include "taskmaster.componentFullname" (dict "context" . "component" "worker") }}
{{- end }}

{{- define "taskmaster.postgres.fullname" -}}
{{- include "taskmaster.componentFullname" (dict "context" . "component" "postgres") }}
{{- end }}

{{/* Selector labels: never change after install (Deployment selectors are immutable). Takes (dict "context" $ "component" "worker"). */}}
{{- define "taskmaster.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskmaster.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* Every object's labels. Takes (dict "context" $ "component" "worker"); component may be left out for shared objects. */}}
{{- define "taskmaster.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .context.Chart.Name .context.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "taskmaster.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: taskmaster
{{- end }}

{{/* The worker pods' selector as "k=v,k=v": WORKER_SELECTOR, which the kill endpoint checks a pod against. */}}
{{- define "taskmaster.worker.selector" -}}
{{- $pairs := list }}
{{- range $key, $value := include "taskmaster.selectorLabels" (dict "context" . "component" "worker") | fromYaml }}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/*
Image of a component: its own repository/tag/pullPolicy, else <image.repository>-<target>, image.tag, appVersion.
A digest, when the component sets one, replaces the tag: the image is then the one built, not whatever the tag
points at today. Takes (dict "context" $ "component" "worker" "target" "worker"), and "values" for a worker pool's own group.
*/}}
{{- define "taskmaster.image" -}}
{{- $root := .context.Values }}
{{- $own := (.values | default (index $root .component)).image }}
{{- $repository := $own.repository | default (printf "%s-%s" $root.image.repository .target) }}
{{- $tag := $own.tag | default $root.image.tag | default .context.Chart.AppVersion }}
image: {{ include "taskmaster.imageReference" (dict "repository" $repository "tag" $tag "digest" $own.digest) | quote }}
imagePullPolicy: {{ $own.pullPolicy | default $root.image.pullPolicy }}
{{- end }}

{{/* repository@digest when a digest is set, else repository:tag. Takes (dict "repository" … "tag" … "digest" …). */}}
{{- define "taskmaster.imageReference" -}}
{{- if .digest }}{{ printf "%s@%s" .repository .digest }}{{ else }}{{ printf "%s:%s" .repository .tag }}{{ end }}
{{- end }}

{{/* ServiceAccount name of a component. Takes (dict "context" $ "component" "worker"). */}}
{{- define "taskmaster.serviceAccountName" -}}
{{- $sa := (index .context.Values .component).serviceAccount }}
{{- if $sa.create }}
{{- $sa.name | default (include "taskmaster.componentFullname" .) }}
{{- else }}
{{- $sa.name | default "default" }}
{{- end }}
{{- end }}

{{/*
Where the database runs (postgresql.mode): bundled, external or cloudnative-pg. An empty mode falls back to the
older switch, so values files written for it keep working: postgresql.enabled false means external.
*/}}
{{- define "taskmaster.database.mode" -}}
{{- .Values.postgresql.mode | default (ternary "bundled" "external" (ne (toString .Values.postgresql.enabled) "false")) }}
{{- end }}

{{/* "true" when the chart runs PostgreSQL itself (the StatefulSet, its Service and Secret), empty otherwise. */}}
{{- define "taskmaster.postgresql.bundled" -}}
{{- if eq (include "taskmaster.database.mode" .) "bundled" }}true{{ end }}
{{- end }}

{{/* The CloudNativePG Cluster's name; its Services are <name>-rw/-ro/-r and its Secrets <name>-app and <name>-ca. */}}
{{- define "taskmaster.cnpg.name" -}}
{{- .Values.postgresql.cnpg.name | default (include "taskmaster.postgres.fullname" .) }}
{{- end }}

{{- define "taskmaster.postgres.secretName" -}}
{{- .Values.postgresql.auth.existingSecret | default (include "taskmaster.postgres.fullname" .) }}
{{- end }}

{{/* The autoscaler's leader-election Lease (LEASE_NAME); the Role names it. */}}
{{- define "taskmaster.autoscaler.leaseName" -}}
{{- include "taskmaster.componentFullname" (dict "context" . "component" "autoscaler") }}
{{- end }}

{{/*
Where the database is, as a YAML map of env names to values: for the services (the ConfigMap holds them) or,
with "migration" true, for the migration Job (which sets them itself, because a pre-upgrade hook runs before the
ConfigMap is updated). The two differ when the services have a role of their own (taskmaster.serviceRole): the
services log in as it; the migration logs in as the owner and grants it (MIGRATE_GRANT_ROLE). No POSTGRES_*
when an existing Secret provides a whole DATABASE_URL, nor for CloudNativePG, whose Secret holds them.
values.schema.json makes sure an external database has a Secret and a host or URL. Takes (dict "context" $ "migration" bool).
*/}}
{{- define "taskmaster.databaseSettingsFor" -}}
{{- $values := .context.Values }}
{{- $serviceRole := include "taskmaster.serviceRole" .context }}
{{- $owner := "" }}
{{- $mode := include "taskmaster.database.mode" .context }}
{{- if eq $mode "bundled" }}
{{- $owner = $values.postgresql.auth.username }}
POSTGRES_HOST: {{ include "taskmaster.postgres.fullname" .context | quote }}
POSTGRES_PORT: {{ $values.postgresql.service.port | quote }}
POSTGRES_DB: {{ $values.postgresql.auth.database | quote }}
{{- else if and (eq $mode "external") (not $values.externalDatabase.existingSecretUrlKey) }}
{{- with $values.externalDatabase }}
{{- $owner = .username }}
POSTGRES_HOST: {{ .host | quote }}
POSTGRES_PORT: {{ .port | quote }}
POSTGRES_DB: {{ .database | quote }}
{{- end }}
{{- end }}
{{- if $owner }}
POSTGRES_USER: {{ ternary $serviceRole $owner (and (not .migration) (ne $serviceRole "")) | quote }}
{{- end }}
{{- if and .migration $serviceRole }}
MIGRATE_GRANT_ROLE: {{ $serviceRole | quote }}
{{- end }}
{{- with include "taskmaster.databaseTls" .context | fromYaml }}
{{- if .sslMode }}
DATABASE_SSLMODE: {{ .sslMode | quote }}
{{- end }}
{{- if .caSecret }}
DATABASE_SSL_CA: {{ printf "%s/ca.crt" (include "taskmaster.databaseTls.dir" $) | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The services' database settings (the ConfigMap). */}}
{{- define "taskmaster.databaseSettings" -}}
{{- include "taskmaster.databaseSettingsFor" (dict "context" . "migration" false) }}
{{- end }}

{{/* The migration Job's database settings. */}}
{{- define "taskmaster.migrationDatabaseSettings" -}}
{{- include "taskmaster.databaseSettingsFor" (dict "context" . "migration" true) }}
{{- end }}

{{/*
The owner's credentials, as container env (the rest is in the ConfigMap): a password from the chart's generated
Secret or from an existing one, a whole DATABASE_URL from an existing Secret, or for CloudNativePG every
connection setting from the operator's <cluster>-app Secret (it owns the password). The PostgreSQL StatefulSet and
the migration Job use them, and the services too unless they have a role of their own.
*/}}
{{- define "taskmaster.databaseEnv" -}}
{{- $mode := include "taskmaster.database.mode" . }}
{{- if eq $mode "bundled" }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "taskmaster.postgres.secretName" . }}
      key: {{ .Values.postgresql.auth.secretKey }}
{{- else if eq $mode "cloudnative-pg" }}
{{- include "taskmaster.cnpg.secretEnv" (dict "secret" (printf "%s-app" (include "taskmaster.cnpg.name" .)) "keys" (dict "POSTGRES_HOST" "host" "POSTGRES_PORT" "port" "POSTGRES_DB" "dbname" "POSTGRES_USER" "user" "POSTGRES_PASSWORD" "password")) }}
{{- else }}
{{- $db := .Values.externalDatabase }}
- name: {{ ternary "DATABASE_URL" "POSTGRES_PASSWORD" (ne $db.existingSecretUrlKey "") }}
  valueFrom:
    secretKeyRef:
      name: {{ $db.existingSecret }}
      key: {{ $db.existingSecretUrlKey | default $db.existingSecretPasswordKey }}
{{- end }}
{{- end }}

{{/*
The name of the services' own database role: externalDatabase.serviceRole.username for an external database, else
postgresql.auth.serviceUsername (bundled, or a CloudNativePG managed role);
empty when the services log in as the owner.
*/}}
{{- define "taskmaster.serviceRole" -}}
{{- if eq (include "taskmaster.database.mode" .) "external" }}{{ .Values.externalDatabase.serviceRole.username }}{{ else }}{{ .Values.postgresql.auth.serviceUsername }}{{ end }}
{{- end }}

{{/* The scheduler's and coordinator's database credentials: their own role's when they have one, else the owner's. */}}
{{- define "taskmaster.serviceDatabaseEnv" -}}
{{- if not (include "taskmaster.serviceRole" .) }}
{{- include "taskmaster.databaseEnv" . }}
{{- else if include "taskmaster.postgresql.bundled" . }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "taskmaster.postgres.secretName" . }}
      key: {{ .Values.postgresql.auth.serviceSecretKey }}
{{- else if eq (include "taskmaster.database.mode" .) "cloudnative-pg" }}
{{- /* Where from the operator's Secret; who from the managed role's basic-auth Secret (cnpg.serviceRoleSecret). */}}
{{- include "taskmaster.cnpg.secretEnv" (dict "secret" (printf "%s-app" (include "taskmaster.cnpg.name" .)) "keys" (dict "POSTGRES_HOST" "host" "POSTGRES_PORT" "port" "POSTGRES_DB" "dbname")) }}
{{- include "taskmaster.cnpg.secretEnv" (dict "secret" .Values.postgresql.cnpg.serviceRoleSecret "keys" (dict "POSTGRES_USER" "username" "POSTGRES_PASSWORD" "password")) }}
{{- else }}
{{- $db := .Values.externalDatabase }}
{{- $url := ne $db.existingSecretUrlKey "" }}
- name: {{ ternary "DATABASE_URL" "POSTGRES_PASSWORD" $url }}
  valueFrom:
    secretKeyRef:
      name: {{ $db.serviceRole.existingSecret | default $db.existingSecret }}
      key: {{ ternary $db.serviceRole.existingSecretUrlKey $db.serviceRole.existingSecretPasswordKey $url }}
{{- end }}
{{- end }}

{{/*
The migration Job's credentials: the owner's, and for the bundled PostgreSQL the services' role's password, so
that `migrate` creates that role and keeps its password in step with the Secret (MIGRATE_GRANT_ROLE_PASSWORD).
An external database's services role is created by its administrator, a CloudNativePG one by the operator.
*/}}
{{- define "taskmaster.migrationDatabaseEnv" -}}
{{- include "taskmaster.databaseEnv" . }}
{{- if and (include "taskmaster.postgresql.bundled" .) .Values.postgresql.auth.serviceUsername }}
- name: MIGRATE_GRANT_ROLE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "taskmaster.postgres.secretName" . }}
      key: {{ .Values.postgresql.auth.serviceSecretKey }}
{{- end }}
{{- end }}

{{/* Where the external database's CA certificate is mounted (DATABASE_SSL_CA is ca.crt there). */}}
{{- define "taskmaster.databaseTls.dir" -}}
/etc/taskmaster/database-tls
{{- end }}

{{/*
TLS to the database as a YAML map (sslMode, caSecret, caSecretKey): externalDatabase.tls, or postgresql.cnpg.tls
whose CA defaults to the operator's <cluster>-ca Secret; none for the bundled PostgreSQL, which serves no TLS.
*/}}
{{- define "taskmaster.databaseTls" -}}
{{- $mode := include "taskmaster.database.mode" . }}
{{- if eq $mode "external" }}
{{- toYaml .Values.externalDatabase.tls }}
{{- else if eq $mode "cloudnative-pg" }}
{{- with .Values.postgresql.cnpg.tls }}
sslMode: {{ .sslMode | quote }}
caSecret: {{ .caSecret | default (printf "%s-ca" (include "taskmaster.cnpg.name" $)) | quote }}
caSecretKey: {{ .caSecretKey | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The volume mount of that CA, for the scheduler, the coordinator and the migration; empty without one. */}}
{{- define "taskmaster.databaseTls.volumeMounts" -}}
{{- if (include "taskmaster.databaseTls" . | fromYaml).caSecret }}
- name: database-tls
  mountPath: {{ include "taskmaster.databaseTls.dir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* The volume of that CA: the one key of caSecret, as ca.crt. Read once at start: a new CA needs a restart. */}}
{{- define "taskmaster.databaseTls.volumes" -}}
{{- with include "taskmaster.databaseTls" . | fromYaml }}
{{- if .caSecret }}
- name: database-tls
  secret:
    secretName: {{ .caSecret }}
    items:
      - key: {{ .caSecretKey }}
        path: ca.crt
{{- end }}
{{- end }}
{{- end }}

{{/* Container env from one Secret. Takes (dict "secret" <name> "keys" (dict <env name> <key>)). */}}
{{- define "taskmaster.cnpg.secretEnv" -}}
{{- range $name, $key := .keys }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $.secret }}
      key: {{ $key }}
{{- end }}
{{- end }}

{{/*
Checksums of the configuration a pod reads through env, so that changing a value rolls the pods that use it
(env is read once at start). Takes (dict "context" $ "secret" true) — secret: whether the pod reads the Secret.
*/}}
{{- define "taskmaster.configChecksums" -}}
checksum/config: {{ include (print .context.Template.BasePath "/configmap.yaml") .context | sha256sum }}
{{- if .secret }}
checksum/secret: {{ include (print .context.Template.BasePath "/secret.yaml") .context | sha256sum }}
{{- end }}
{{- end }}

{{/* prometheus.io/* annotations for Prometheus without the operator. Takes (dict "context" $ "port" 9464). */}}
{{- define "taskmaster.scrapeAnnotations" -}}
{{- if .context.Values.metrics.scrapeAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* "true" when the scheduler's API has a token configured (scheduler.auth), empty otherwise. */}}
{{- define "taskmaster.scheduler.authenticated" -}}
{{- with .Values.scheduler.auth }}{{ if or .apiToken .existingSecret .tokensSecret .oidc.issuer }}true{{ end }}{{ end }}
{{- end }}

{{/*
"true" when the ValidatingAdmissionPolicy limiting the scheduler's pod deletions is rendered:
scheduler.rbac.admissionPolicy true, or "auto" on a cluster that serves admissionregistration.k8s.io/v1
ValidatingAdmissionPolicy (Kubernetes 1.30+). Empty otherwise.
*/}}
{{- define "taskmaster.scheduler.admissionPolicy" -}}
{{- $setting := toString .Values.scheduler.rbac.admissionPolicy }}
{{- if or (eq $setting "true") (and (eq $setting "auto") (.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy")) }}true{{ end }}
{{- end }}

{{/*
"true" when a Prometheus operator object is rendered: its switch true (whatever helm can see of the cluster, so
`helm template` and GitOps tools render it), or "auto" on a cluster that serves the kind. Empty otherwise.
Takes (dict "context" $ "enabled" <true|false|auto> "kind" "ServiceMonitor").
*/}}
{{- define "taskmaster.monitoring.enabled" -}}
{{- $setting := toString .enabled }}
{{- if or (eq $setting "true") (and (eq $setting "auto") (.context.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind))) }}true{{ end }}
{{- end }}

{{/* Name of that policy and its binding, cluster-scoped: the namespace keeps two releases of one name apart. */}}
{{- define "taskmaster.scheduler.admissionPolicyName" -}}
{{- printf "%s-%s-scheduler-pod-deletion" .Release.Namespace (include "taskmaster.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}

{{/* The Secret holding a component's gRPC certificate (tls.crt, tls.key, ca.crt). Takes (dict "context" $ "component" "worker"). */}}
{{- define "taskmaster.grpcTls.secretName" -}}
{{- index .context.Values.grpcTls.secretNames .component | default (printf "%s-grpc-tls" (include "taskmaster.componentFullname" .)) }}
{{- end }}

{{/* Where each service finds its gRPC certificate files (the Secret's directory: updated in place when it is renewed). */}}
{{- define "taskmaster.grpcTls.dir" -}}
/etc/taskmaster/grpc-tls
{{- end }}
