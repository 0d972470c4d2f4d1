{{/*
The parts every TaskMaster pod shares. The scheduler, coordinator and worker Deployments differ only in
ports, probes and env: each component's deployment file passes its ports and defines
taskmaster.<component>.probes and .env; taskmaster.deployment assembles the rest from the component's
values group.
*/}}

{{/*
Pod-level settings from a values group (the same keys in every group). Takes (dict "context" $ "values" .Values.worker
"selector" map); selector, the labels of exactly these pods, fills in the labelSelector of a topologySpreadConstraint
left without one.
*/}}
{{- define "taskmaster.podSettings" -}}
{{- with .context.Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
{{- $selector := $.selector | default dict }}
topologySpreadConstraints:
  {{- range . }}
  {{- $constraint := deepCopy . }}
  {{- if and $selector (not (hasKey $constraint "labelSelector")) }}
  {{- $_ := set $constraint "labelSelector" (dict "matchLabels" $selector) }}
  {{- end }}
  - {{ toYaml $constraint | indent 4 | trim }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Container-level settings from a values group. Takes the values group. */}}
{{- define "taskmaster.containerSettings" -}}
{{- with .resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .securityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
A Deployment. Takes (dict "context" $ "component" "worker" "ports" (dict "grpc" 8090 "metrics" 9464)
"replicasManaged" bool "automountToken" bool "readsSecret" bool "metricsPort" int
"terminationGracePeriodSeconds" int-or-nil "databaseClient" bool: mounts the database's CA, if any).
replicasManaged leaves `replicas` out, so that `helm upgrade` never resets what an autoscaler set.
A worker pool passes its own "values" (its merged group), "name", "labels" (added to the Deployment's and the
pods' labels), "selector" (added to the Deployment's selector) and "env" (YAML added to the container's env).
*/}}
{{- define "taskmaster.deployment" -}}
{{- $ctx := .context }}
{{- $values := .values | default (index $ctx.Values .component) }}
{{- $scope := dict "context" $ctx "component" .component }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name | default (include "taskmaster.componentFullname" $scope) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "taskmaster.labels" $scope | nindent 4 }}
    {{- with .labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- if not .replicasManaged }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- with $values.strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "taskmaster.selectorLabels" $scope | nindent 6 }}
      {{- with .selector }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
  template:
    metadata:
      labels:
        {{- include "taskmaster.labels" $scope | nindent 8 }}
        {{- with .labels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "taskmaster.configChecksums" (dict "context" $ctx "secret" .readsSecret) | trim | nindent 8 }}
        {{- include "taskmaster.scrapeAnnotations" (dict "context" $ctx "port" .metricsPort) | trim | nindent 8 }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "taskmaster.serviceAccountName" $scope }}
      automountServiceAccountToken: {{ .automountToken }}
      {{- with .terminationGracePeriodSeconds }}
      terminationGracePeriodSeconds: {{ . }}
      {{- end }}
      {{- /* A pool's spread counts its own pods: the selector labels plus the pool's. */}}
      {{- $podSelector := merge (dict) (.selector | default dict) (.labels | default dict) (include "taskmaster.selectorLabels" $scope | fromYaml) }}
      {{- include "taskmaster.podSettings" (dict "context" $ctx "values" $values "selector" $podSelector) | trim | nindent 6 }}
      {{- with $values.initContainers }}
      initContainers:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          {{- include "taskmaster.image" (dict "context" $ctx "component" .component "target" .component "values" $values) | trim | nindent 10 }}
          ports:
            {{- range $name, $port := .ports }}
            - name: {{ $name }}
              containerPort: {{ $port }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "taskmaster.fullname" $ctx }}
          env:
            {{- include (printf "taskmaster.%s.env" .component) $ctx | nindent 12 }}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with $values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- include (printf "taskmaster.%s.probes" .component) $ctx | nindent 10 }}
          {{- include "taskmaster.containerSettings" $values | trim | nindent 10 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if .databaseClient }}
            {{- with include "taskmaster.databaseTls.volumeMounts" $ctx }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- if $ctx.Values.grpcTls.enabled }}
            - name: grpc-tls
              mountPath: {{ include "taskmaster.grpcTls.dir" $ctx }}
              readOnly: true
            {{- end }}
            {{- with $values.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
        {{- with $values.extraContainers }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      volumes:
        # The root filesystem is read-only; diagnostics (node --report-directory, heap snapshots) need scratch space.
        - name: tmp
          emptyDir: {}
        {{- if .databaseClient }}
        {{- with include "taskmaster.databaseTls.volumes" $ctx }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- end }}
        {{- if $ctx.Values.grpcTls.enabled }}
        # The whole Secret, not subPath files: a renewed certificate then appears in place, and is re-read.
        - name: grpc-tls
          secret:
            secretName: {{ include "taskmaster.grpcTls.secretName" $scope }}
        {{- end }}
        {{- with $values.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end }}

{{/*
A Service. Takes (dict "context" $ "component" "worker" "service" (dict "type" … "annotations" … "clusterIP" …)
"ports" (list (dict "name" … "port" … "targetPort" …))).
*/}}
{{- define "taskmaster.service" -}}
{{- $scope := dict "context" .context "component" .component }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "taskmaster.componentFullname" $scope }}
  namespace: {{ .context.Release.Namespace }}
  labels:
    {{- include "taskmaster.labels" $scope | nindent 4 }}
  {{- with .service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .service.type | default "ClusterIP" }}
  {{- with .service.clusterIP }}
  clusterIP: {{ . }}
  {{- end }}
  selector:
    {{- include "taskmaster.selectorLabels" $scope | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .targetPort }}
      protocol: TCP
      {{- if hasPrefix "grpc" .name }}
      appProtocol: grpc
      {{- end }}
    {{- end }}
{{- end }}

{{/*
Probes of a gRPC server (coordinator, worker) against grpc.health.v1 for service "": SERVING once it takes
calls, NOT_SERVING while it drains (the kubelet stops liveness probes of a terminating pod, and 3 × 10 s
outlasts the worker's drain anyway). The coordinator first waits up to 60 s for the database: the startup
probe allows 90 s. Takes the port.
*/}}
{{- define "taskmaster.grpcProbes" -}}
startupProbe:
  grpc:
    port: {{ . }}
  periodSeconds: 2
  failureThreshold: 45
livenessProbe:
  grpc:
    port: {{ . }}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  grpc:
    port: {{ . }}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end }}
