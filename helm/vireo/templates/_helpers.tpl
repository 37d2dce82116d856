{{/* Name of the chart, or nameOverride. */}}
{{- define "vireo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-chart, or fullnameOverride; the release name alone when it already holds the chart name. */}}
{{- define "vireo.fullname" -}}
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

{{- define "vireo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of a component; call with (dict "root" $ "component" "sink"). */}}
{{- define "vireo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vireo.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every label of a component's objects. */}}
{{- define "vireo.labels" -}}
helm.sh/chart: {{ include "vireo.chart" .root }}
{{ include "vireo.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: vireo
{{- end -}}

{{/* Name of a component's objects: fullname-component, at most 63 characters. */}}
{{- define "vireo.componentName" -}}
{{- printf "%s-%s" (include "vireo.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vireo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vireo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* An image reference; call with (dict "root" $ "repository" "vireo/sink"). */}}
{{- define "vireo.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- if .root.Values.image.registry -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Topic name as the processes see it (Kafka:TopicPrefix + logical name). */}}
{{- define "vireo.topic" -}}
{{- printf "%s%s" .root.Values.kafka.topicPrefix .topic -}}
{{- end -}}

{{/* Fails the render when a value the chart cannot work without is missing. */}}
{{- define "vireo.validate" -}}
{{- if not .Values.kafka.bootstrapServers -}}
{{- fail "kafka.bootstrapServers is required: the host:port list of your Kafka brokers" -}}
{{- end -}}
{{- if not .Values.postgres.existingSecret -}}
{{- fail "postgres.existingSecret is required: a Secret holding the Postgres connection string" -}}
{{- end -}}
{{- if not .Values.redis.existingSecret -}}
{{- fail "redis.existingSecret is required: a Secret holding the Redis configuration string" -}}
{{- end -}}
{{- if and (eq .Values.model.source "pvc") (not .Values.model.pvc.existingClaim) -}}
{{- fail "model.pvc.existingClaim is required when model.source is pvc" -}}
{{- end -}}
{{- if and (eq .Values.model.source "objectStore") (or (not .Values.objectStore.bucket) (not .Values.objectStore.existingSecret)) -}}
{{- fail "objectStore.bucket and objectStore.existingSecret are required when model.source is objectStore" -}}
{{- end -}}
{{- if and (eq .Values.blobs.kind "folder") (not .Values.blobs.folder.existingClaim) -}}
{{- fail "blobs.folder.existingClaim is required when blobs.kind is folder: a ReadWriteMany claim shared by media silos and the API" -}}
{{- end -}}
{{- if and (eq .Values.blobs.kind "s3") (not (or .Values.blobs.s3.bucket .Values.objectStore.bucket)) -}}
{{- fail "blobs.s3.bucket (or objectStore.bucket) is required when blobs.kind is s3" -}}
{{- end -}}
{{- if and .Values.api.enabled (not .Values.media.existingClaim) -}}
{{- fail "media.existingClaim is required while api.enabled is true: the API stores every upload (and the start of every URL it probes) under Pipeline:MediaRoot, which must be an existing ReadWriteMany PersistentVolumeClaim that media silos mount too" -}}
{{- end -}}
{{- $shutdown := include "vireo.siloShutdownSeconds" . | int -}}
{{- if lt $shutdown 10 -}}
{{- fail (printf "siloDefaults.terminationGracePeriodSeconds (%d) must be at least siloDefaults.preStopSleepSeconds (%d) + 15: a silo gets the grace period less the preStop sleep and a 5 s margin to stop (DOTNET_shutdownTimeoutSeconds, here %d), and needs 10 s or more to deactivate its grains before the kubelet kills it" (int .Values.siloDefaults.terminationGracePeriodSeconds) (int .Values.siloDefaults.preStopSleepSeconds) $shutdown) -}}
{{- end -}}
{{- end -}}

{{/* Seconds a silo's host has to stop (DOTNET_shutdownTimeoutSeconds): the grace period less the preStop sleep and a 5 s margin. */}}
{{- define "vireo.siloShutdownSeconds" -}}
{{- sub (sub (int .Values.siloDefaults.terminationGracePeriodSeconds) (int .Values.siloDefaults.preStopSleepSeconds)) 5 -}}
{{- end -}}

{{/* Where frame thumbnails are kept (Blobs:*), for the containers that write (media silos) or read (the API) them. */}}
{{- define "vireo.blobsEnv" -}}
- name: Blobs__Kind
  value: {{ .Values.blobs.kind | quote }}
{{- if eq .Values.blobs.kind "folder" }}
- name: Blobs__Root
  value: {{ .Values.blobs.folder.mountPath | quote }}
{{- else if eq .Values.blobs.kind "s3" }}
- name: Blobs__S3__Bucket
  value: {{ .Values.blobs.s3.bucket | default .Values.objectStore.bucket | quote }}
- name: Blobs__S3__Prefix
  value: {{ .Values.blobs.s3.prefix | quote }}
- name: Blobs__S3__Region
  value: {{ .Values.objectStore.region | quote }}
{{- if .Values.objectStore.endpoint }}
- name: Blobs__S3__ServiceUrl
  value: {{ .Values.objectStore.endpoint | quote }}
{{- end }}
{{- /* S3-compatible stores want the bucket in the path; AWS S3 itself takes it in the host name. */}}
- name: Blobs__S3__ForcePathStyle
  value: {{ not (empty .Values.objectStore.endpoint) | quote }}
{{- if .Values.objectStore.existingSecret }}
- name: Blobs__S3__AccessKeyId
  valueFrom:
    secretKeyRef:
      name: {{ .Values.objectStore.existingSecret }}
      key: {{ .Values.objectStore.accessKeyIdKey }}
- name: Blobs__S3__SecretAccessKey
  valueFrom:
    secretKeyRef:
      name: {{ .Values.objectStore.existingSecret }}
      key: {{ .Values.objectStore.secretAccessKeyKey }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Environment every Vireo container shares: HTTP endpoint, Kafka, Postgres, Redis, telemetry, extra config. */}}
{{- define "vireo.commonEnv" -}}
- name: Http__Address
  value: "0.0.0.0"
- name: Http__Port
  value: {{ .Values.httpPort | quote }}
- name: Kafka__BootstrapServers
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: Kafka__TopicPrefix
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: ConnectionStrings__Postgres
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgres.existingSecret }}
      key: {{ .Values.postgres.connectionStringKey }}
- name: ConnectionStrings__Redis
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.connectionStringKey }}
{{- if .Values.otlpEndpoint }}
- name: Telemetry__OtlpEndpoint
  value: {{ .Values.otlpEndpoint | quote }}
{{- end }}
{{- range $key, $value := .Values.config }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Probes on the service defaults' endpoints; call with (dict "root" $ "period" 5 "failures" 120). */}}
{{- define "vireo.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: {{ .period }}
  failureThreshold: {{ .failures }}
  timeoutSeconds: 3
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  failureThreshold: 3
  timeoutSeconds: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  failureThreshold: 3
  timeoutSeconds: 6
{{- end -}}

{{/* The writable /tmp volume every container mounts (the root filesystem is read-only). */}}
{{- define "vireo.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{/* Every Deployment of the release as a JSON list of {component, autoscaling, kind}; kind is media, gpu, sink or api; a silo without autoscaling gets {} (not autoscaled). */}}
{{- define "vireo.workloads" -}}
{{- $list := list -}}
{{- range $name, $silo := .Values.silos -}}
{{- if $silo.enabled -}}
{{- $roles := splitList "," ($silo.roles | nospace) -}}
{{- $kind := ternary "media" "gpu" (has "media" $roles) -}}
{{- $list = append $list (dict "component" (printf "silo-%s" $name) "autoscaling" ($silo.autoscaling | default dict) "kind" $kind "roles" $roles) -}}
{{- end -}}
{{- end -}}
{{- if .Values.sink.enabled -}}
{{- $list = append $list (dict "component" "sink" "autoscaling" .Values.sink.autoscaling "kind" "sink" "roles" list) -}}
{{- end -}}
{{- if .Values.api.enabled -}}
{{- $list = append $list (dict "component" "api" "autoscaling" .Values.api.autoscaling "kind" "api" "roles" list) -}}
{{- end -}}
{{- toJson $list -}}
{{- end -}}
