{{/*
Overlays the map `over` on the map `base`, key by key and into nested maps, so that a worker pool inherits what
it leaves out and may still set false, 0 or [] (a plain merge skips those as empty). Takes (dict "base" …
"over" …); returns JSON.
*/}}
{{- define "taskmaster.overlay" -}}
{{- $out := deepCopy .base }}
{{- range $key, $value := .over }}
{{- $current := index $out $key }}
{{- if and (kindIs "map" $value) (kindIs "map" $current) }}
{{- $_ := set $out $key (include "taskmaster.overlay" (dict "base" $current "over" $value) | fromJson) }}
{{- else }}
{{- $_ := set $out $key $value }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
The worker pools as JSON {"pools": [...]}: first the default one (the `worker` group, Deployment <fullname>-worker,
the name it always had, so upgrades keep it), then workerPools in name order (Deployment <fullname>-worker-<name>),
each with its name, deployment, values (its group overlaid on `worker`) and whether it is the default.
*/}}
{{- define "taskmaster.workerPools" -}}
{{- $worker := include "taskmaster.worker.fullname" . }}
{{- $pools := list (dict "name" "default" "deployment" $worker "values" .Values.worker "default" true) }}
{{- range $name, $over := .Values.workerPools }}
{{- if eq $name "default" }}
{{- fail "workerPools.default: the default pool is the `worker` group itself; give other pools other names" }}
{{- end }}
{{- $values := include "taskmaster.overlay" (dict "base" $.Values.worker "over" ($over | default dict)) | fromJson }}
{{- $pools = append $pools (dict "name" $name "deployment" (printf "%s-%s" $worker $name | trunc 63 | trimSuffix "-") "values" $values "default" false) }}
{{- end }}
{{- range $pools }}
{{- if and .values.autoscaler.enabled .values.keda.enabled }}
{{- fail (printf "worker pool %s: autoscaler.enabled and keda.enabled both own the replicas; turn one off" .name) }}
{{- end }}
{{- end }}
{{- toJson (dict "pools" $pools) }}
{{- end }}

{{/* The labels that say which pool a worker pod belongs to. Takes a pool of taskmaster.workerPools. */}}
{{- define "taskmaster.workerPool.labels" -}}
taskmaster.dev/pool: {{ .name }}
{{- end }}

{{/*
The pool's pods as "k=v,k=v": the worker selector plus its pool label (WORKER_POOLS' selector, what the scaler
lists and kills). Takes (dict "context" $ "pool" <pool>).
*/}}
{{- define "taskmaster.workerPool.selector" -}}
{{- printf "%s,taskmaster.dev/pool=%s" (include "taskmaster.worker.selector" .context) .pool.name }}
{{- end }}

{{/* The ScaledObject of a pool whose replicas KEDA owns (worker/worker-scaledobject.yaml). */}}
{{- define "taskmaster.workerPool.scaledObjectName" -}}
{{- .deployment }}
{{- end }}

{{/*
WORKER_POOLS: every pool as the scheduler reads it (services/common/src/worker-pools.ts), as JSON.
*/}}
{{- define "taskmaster.workerPools.env" -}}
{{- $entries := list }}
{{- range (include "taskmaster.workerPools" . | fromJson).pools }}
{{- $entry := dict "name" .name "deployment" .deployment "selector" (include "taskmaster.workerPool.selector" (dict "context" $ "pool" .)) "queues" .values.queues "tasks" .values.tasks }}
{{- with .values.autoscaler }}
{{- $_ := set $entry "autoscaler" (dict "enabled" .enabled "minReplicas" (int .minReplicas) "maxReplicas" (int .maxReplicas) "cooldownSeconds" (int .cooldownSeconds) "tasksPerWorker" (int .tasksPerWorker) "maxQueueAgeSeconds" (int (.maxQueueAgeSeconds | default 0))) }}
{{- end }}
{{- if .values.keda.enabled }}
{{- $_ := set $entry "keda" (dict "scaledObject" (include "taskmaster.workerPool.scaledObjectName" .)) }}
{{- end }}
{{- $entries = append $entries $entry }}
{{- end }}
{{- toJson $entries }}
{{- end }}

{{/* "true" when some pool's built-in autoscaler is on (AUTOSCALER_ENABLED, the Lease and its Role rules). */}}
{{- define "taskmaster.workerPools.autoscaled" -}}
{{- range (include "taskmaster.workerPools" . | fromJson).pools }}{{ if .values.autoscaler.enabled }}true{{ end }}{{ end }}
{{- end }}
