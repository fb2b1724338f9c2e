{{/*
Names, labels and the pieces every service's objects share.
*/}}

{{- define "imcloud.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-imcloud", or the release name when it already contains the chart name. */}}
{{- define "imcloud.fullname" -}}
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

{{- define "imcloud.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The services, their gRPC ports, and who may call them (see ARCHITECTURE.md). */}}
{{- define "imcloud.services" -}}
gateway:
  grpcPort: 50050
  metricsPort: 9464
  callers: []
products:
  grpcPort: 50051
  metricsPort: 9464
  callers: [gateway, production, servitization]
production:
  grpcPort: 50052
  metricsPort: 9464
  callers: [gateway, servitization]
servitization:
  grpcPort: 50053
  metricsPort: 9464
  callers: [gateway]
{{- end -}}

{{/* "<fullname>-<component>", a valid DNS label. Call with (list $ "gateway"). */}}
{{- define "imcloud.componentName" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- printf "%s-%s" (include "imcloud.fullname" $root | trunc 48 | trimSuffix "-") $component -}}
{{- end -}}

{{/* Labels selecting one component's pods. Call with (list $ "gateway"). */}}
{{- define "imcloud.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "imcloud.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- if gt (len .) 1 }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}
{{- end -}}

{{/* Standard labels of every object. Call with (list $) or (list $ "gateway"). */}}
{{- define "imcloud.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "imcloud.chart" $root }}
{{ include "imcloud.selectorLabels" . }}
app.kubernetes.io/version: {{ include "imcloud.imageTag" $root | quote }}
app.kubernetes.io/part-of: imcloud
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- end -}}

{{- define "imcloud.imageTag" -}}
{{- default $.Chart.AppVersion $.Values.image.tag -}}
{{- end -}}

{{- define "imcloud.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "imcloud.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{- define "imcloud.secretName" -}}
{{- default (include "imcloud.componentName" (list . "secrets")) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "imcloud.configMapName" -}}
{{- include "imcloud.componentName" (list . "config") -}}
{{- end -}}

{{/* The Secret the migration Job reads: a hook copy when the chart manages it. */}}
{{- define "imcloud.migrationSecretName" -}}
{{- default (include "imcloud.componentName" (list . "migrations")) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "imcloud.gatewayServiceAccountName" -}}
{{- include "imcloud.componentName" (list . "gateway") -}}
{{- end -}}

{{/* Where the processes find a service's gRPC server. Call with (list $ "products"). */}}
{{- define "imcloud.grpcTarget" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $svc := index (include "imcloud.services" $root | fromYaml) $name -}}
{{- $values := index $root.Values $name -}}
{{- if $values.grpcTarget -}}
{{- $values.grpcTarget -}}
{{- else -}}
{{- printf "%s:%v" (include "imcloud.componentName" (list $root $name)) $svc.grpcPort -}}
{{- end -}}
{{- end -}}

{{/*
The non-secret settings of every process, as IMCLOUD_* variables: the data of
the ConfigMap, and the inline env of the migration Job (a pre-install hook runs
before the ConfigMap exists).
*/}}
{{- define "imcloud.configData" -}}
{{- $data := dict
  "IMCLOUD_BUS" "kafka"
  "IMCLOUD_LOG_FORMAT" "json"
  "IMCLOUD_LOG_LEVEL" .Values.config.logLevel
  "IMCLOUD_GRPC_DEADLINE_S" (toString .Values.config.grpcDeadlineSeconds)
  "IMCLOUD_DATABASE_POOL_SIZE" (toString .Values.database.poolSize)
  "IMCLOUD_KAFKA__BOOTSTRAP_SERVERS" .Values.kafka.bootstrapServers
  "IMCLOUD_KAFKA__CLIENT_ID" .Values.kafka.clientId
  "IMCLOUD_KAFKA__TOPIC_PARTITIONS" (toString .Values.kafka.topicPartitions)
  "IMCLOUD_KAFKA__REPLICATION_FACTOR" (toString .Values.kafka.replicationFactor)
  "IMCLOUD_KAFKA__CONNECT_TIMEOUT_S" (toString .Values.kafka.connectTimeoutSeconds)
  "IMCLOUD_METRICS_HOST" "0.0.0.0"
  "IMCLOUD_METRICS_PORT" "9464"
  "IMCLOUD_GATEWAY__HTTP_HOST" "0.0.0.0"
  "IMCLOUD_GATEWAY__HTTP_PORT" "8080"
  "IMCLOUD_GATEWAY__MQTT_HOST" "0.0.0.0"
  "IMCLOUD_GATEWAY__MQTT_PORT" "1883"
  "IMCLOUD_GATEWAY__SIGNUP_ENABLED" (toString .Values.gateway.config.signupEnabled)
  "IMCLOUD_GATEWAY__JWT_TTL_S" (toString .Values.gateway.config.jwtTtlSeconds)
  "IMCLOUD_GATEWAY__MAX_DEVICE_STREAMS" (toString .Values.gateway.config.maxDeviceStreams)
  "IMCLOUD_GATEWAY__CORS_ORIGINS" (toJson .Values.gateway.config.corsOrigins)
-}}
{{- range $name, $svc := include "imcloud.services" . | fromYaml -}}
{{- $_ := set $data (printf "IMCLOUD_%s_GRPC__BIND" (upper $name)) (printf "0.0.0.0:%v" $svc.grpcPort) -}}
{{- $_ := set $data (printf "IMCLOUD_%s_GRPC__TARGET" (upper $name)) (include "imcloud.grpcTarget" (list $ $name)) -}}
{{- end -}}
{{- /* config.extra last: it may override any of the above. */ -}}
{{- range $key, $value := .Values.config.extra -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/*
The settings read from the Secret, as env entries (referenced, never inlined).
Call with (list $ "products" secretName); "" as the service gives every
database URL and no JWT secret (the migration Job).
*/}}
{{- define "imcloud.secretEnv" -}}
{{- $root := index . 0 -}}
{{- $service := index . 1 -}}
{{- $secret := index . 2 -}}
{{- if $service }}
- name: IMCLOUD_GATEWAY__JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: IMCLOUD_GATEWAY__JWT_SECRET
{{- end }}
- name: IMCLOUD_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: IMCLOUD_DATABASE_URL
      optional: true
{{- range $name, $_ := include "imcloud.services" $root | fromYaml }}
{{- if or (not $service) (eq $name $service) }}
- name: IMCLOUD_DATABASE_URLS__{{ upper $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: IMCLOUD_DATABASE_URLS__{{ upper $name }}
      optional: true
{{- end }}
{{- end }}
{{- end -}}

{{/* The Secret's data from the values (chart-managed Secret only). */}}
{{- define "imcloud.databaseSecretData" -}}
{{- with .Values.secrets.databaseUrl }}
IMCLOUD_DATABASE_URL: {{ . | b64enc | quote }}
{{- end }}
{{- range $name, $url := .Values.secrets.databaseUrls }}
{{- if $url }}
IMCLOUD_DATABASE_URLS__{{ upper $name }}: {{ $url | b64enc | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Fails the render on values the schema cannot express. */}}
{{- define "imcloud.validate" -}}
{{- if not .Values.secrets.existingSecret -}}
{{- if and .Values.secrets.jwtSecret (lt (len .Values.secrets.jwtSecret) 32) -}}
{{- fail "secrets.jwtSecret must be at least 32 bytes (try: openssl rand -hex 32), or leave it empty to have one generated" -}}
{{- end -}}
{{- range $name, $_ := include "imcloud.services" . | fromYaml -}}
{{- if and (index $.Values $name).enabled (not $.Values.secrets.databaseUrl) (not (index $.Values.secrets.databaseUrls $name)) -}}
{{- fail (printf "no database URL for %s: set secrets.databaseUrl (with {service}) or secrets.databaseUrls.%s" $name $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $name, $_ := include "imcloud.services" . | fromYaml -}}
{{- $v := index $.Values $name -}}
{{- if and $v.enabled $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- fail (printf "%s.autoscaling.minReplicas (%v) is above maxReplicas (%v)" $name $v.autoscaling.minReplicas $v.autoscaling.maxReplicas) -}}
{{- end -}}
{{- if and $v.enabled $v.podDisruptionBudget.enabled (not (kindIs "string" $v.podDisruptionBudget.minAvailable)) -}}
{{- $floor := ternary $v.autoscaling.minReplicas $v.replicas $v.autoscaling.enabled -}}
{{- if ge (int $v.podDisruptionBudget.minAvailable) (int $floor) -}}
{{- fail (printf "%s.podDisruptionBudget.minAvailable (%v) must be below the replica count (%v), or no pod could ever be evicted (node drains would hang)" $name $v.podDisruptionBudget.minAvailable $floor) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Egress every component needs: DNS, PostgreSQL, Kafka (unless false), the extra rules. Call with (list $ true). */}}
{{- define "imcloud.commonEgress" -}}
{{- $np := (index . 0).Values.networkPolicy -}}
{{- $kafka := index . 1 -}}
{{- $rules := list $np.egress.dns $np.egress.postgres -}}
{{- if $kafka }}{{ $rules = append $rules $np.egress.kafka }}{{ end -}}
{{- range $rules }}
- ports:
    {{- toYaml .ports | nindent 4 }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- with $np.egress.extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}
