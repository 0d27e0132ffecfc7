{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "borderfusion.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-borderfusion unless the release name already contains it. */}}
{{- define "borderfusion.fullname" -}}
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

{{- define "borderfusion.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "borderfusion.labels" -}}
helm.sh/chart: {{ include "borderfusion.chart" . }}
{{ include "borderfusion.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: borderfusion
{{- end -}}

{{- define "borderfusion.selectorLabels" -}}
app.kubernetes.io/name: {{ include "borderfusion.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component (ingest, fusion, alerts, web, gateway). Call with (list $ "name"). */}}
{{- define "borderfusion.componentLabels" -}}
{{- $root := index . 0 -}}
{{ include "borderfusion.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "borderfusion.componentSelectorLabels" -}}
{{- $root := index . 0 -}}
{{ include "borderfusion.selectorLabels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "borderfusion.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "borderfusion.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "borderfusion.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "borderfusion.configMapName" -}}
{{- default (printf "%s-config" (include "borderfusion.fullname" .)) .Values.config.existingConfigMap -}}
{{- end -}}

{{- define "borderfusion.kafkaSecretName" -}}
{{- default (printf "%s-kafka" (include "borderfusion.fullname" .)) .Values.kafka.existingSecret -}}
{{- end -}}

{{- define "borderfusion.gatewaySecretName" -}}
{{- default (printf "%s-gateway" (include "borderfusion.fullname" .)) .Values.gateway.existingSecret -}}
{{- end -}}

{{/* True (non-empty) when the pods must read SASL credentials. */}}
{{- define "borderfusion.kafkaSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol -}}true{{- end -}}
{{- end -}}

{{/* True (non-empty) when a CA certificate is mounted for SSL / SASL_SSL. */}}
{{- define "borderfusion.kafkaCa" -}}
{{- if and (hasSuffix "SSL" .Values.kafka.securityProtocol) (or .Values.kafka.tls.caCert .Values.kafka.tls.caSecretName) -}}true{{- end -}}
{{- end -}}

{{/* True (non-empty) when a client certificate is mounted for brokers that require one. */}}
{{- define "borderfusion.kafkaClientCert" -}}
{{- if and (hasSuffix "SSL" .Values.kafka.securityProtocol) .Values.kafka.tls.clientSecretName -}}true{{- end -}}
{{- end -}}

{{- define "borderfusion.kafkaCaSecretName" -}}
{{- default (include "borderfusion.kafkaSecretName" .) .Values.kafka.tls.caSecretName -}}
{{- end -}}

{{- define "borderfusion.kafkaCaSecretKey" -}}
{{- if .Values.kafka.tls.caSecretName -}}{{ .Values.kafka.tls.caSecretKey }}{{- else -}}ca.crt{{- end -}}
{{- end -}}

{{/* The chart creates its Kafka Secret when it has something to put in it. */}}
{{- define "borderfusion.createKafkaSecret" -}}
{{- if and (not .Values.kafka.existingSecret) (or (include "borderfusion.kafkaSasl" .) .Values.kafka.tls.caCert) -}}true{{- end -}}
{{- end -}}

{{/*
Environment of every borderfusion pod: the settings contract (streams/settings.py).
Call with (list $ "<store>").
*/}}
{{- define "borderfusion.env" -}}
{{- $root := index . 0 -}}
{{- $store := index . 1 -}}
{{- $v := $root.Values -}}
- name: BORDERFUSION_KAFKA_BOOTSTRAP
  value: {{ $v.kafka.bootstrap | quote }}
- name: BORDERFUSION_TOPIC_PREFIX
  value: {{ $v.kafka.topicPrefix | quote }}
- name: BORDERFUSION_APP_ID
  value: {{ $v.app.id | quote }}
- name: BORDERFUSION_PARTITIONS
  value: {{ $v.kafka.partitions | quote }}
- name: BORDERFUSION_STORE
  value: {{ $store | quote }}
- name: BORDERFUSION_DATA_DIR
  value: /var/lib/borderfusion
- name: BORDERFUSION_SPOOL_DIR
  value: /var/lib/borderfusion/spool
- name: BORDERFUSION_SENSORS_FILE
  value: /etc/borderfusion/config/sensors.yaml
- name: BORDERFUSION_ZONES_FILE
  value: /etc/borderfusion/config/zones.geojson
- name: BORDERFUSION_RULES_FILE
  value: /etc/borderfusion/config/rules.yaml
- name: BORDERFUSION_WEB_HOST
  value: "0.0.0.0"
- name: BORDERFUSION_WEB_PORT
  value: "6066"
- name: BORDERFUSION_GATEWAY_HOST
  value: "0.0.0.0"
- name: BORDERFUSION_GATEWAY_PORT
  value: "8088"
- name: BORDERFUSION_LOG_LEVEL
  value: {{ $v.app.logLevel | quote }}
- name: BORDERFUSION_KAFKA_SECURITY_PROTOCOL
  value: {{ $v.kafka.securityProtocol | quote }}
{{- if include "borderfusion.kafkaSasl" $root }}
- name: BORDERFUSION_KAFKA_SASL_MECHANISM
  value: {{ required "kafka.sasl.mechanism is required with a SASL_* securityProtocol" $v.kafka.sasl.mechanism | quote }}
- name: BORDERFUSION_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ include "borderfusion.kafkaSecretName" $root }}
      key: sasl-username
- name: BORDERFUSION_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "borderfusion.kafkaSecretName" $root }}
      key: sasl-password
{{- end }}
{{- if include "borderfusion.kafkaCa" $root }}
- name: BORDERFUSION_KAFKA_SSL_CAFILE
  value: /etc/borderfusion/kafka-ca/ca.crt
{{- end }}
{{- if include "borderfusion.kafkaClientCert" $root }}
- name: BORDERFUSION_KAFKA_SSL_CERTFILE
  value: /etc/borderfusion/kafka-client/tls.crt
- name: BORDERFUSION_KAFKA_SSL_KEYFILE
  value: /etc/borderfusion/kafka-client/tls.key
{{- end }}
{{- with $v.app.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes every pod mounts: config, Kafka CA and client certificate (if any), /tmp. */}}
{{- define "borderfusion.commonVolumes" -}}
- name: config
  configMap:
    name: {{ include "borderfusion.configMapName" . }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if include "borderfusion.kafkaCa" . }}
- name: kafka-ca
  secret:
    secretName: {{ include "borderfusion.kafkaCaSecretName" . }}
    items:
      - key: {{ include "borderfusion.kafkaCaSecretKey" . }}
        path: ca.crt
{{- end }}
{{- if include "borderfusion.kafkaClientCert" . }}
- name: kafka-client
  secret:
    secretName: {{ .Values.kafka.tls.clientSecretName }}
    defaultMode: 0400
    items:
      - key: {{ .Values.kafka.tls.clientCertKey }}
        path: tls.crt
      - key: {{ .Values.kafka.tls.clientKeyKey }}
        path: tls.key
{{- end }}
{{- end -}}

{{- define "borderfusion.commonVolumeMounts" -}}
- name: config
  mountPath: /etc/borderfusion/config
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if include "borderfusion.kafkaCa" . }}
- name: kafka-ca
  mountPath: /etc/borderfusion/kafka-ca
  readOnly: true
{{- end }}
{{- if include "borderfusion.kafkaClientCert" . }}
- name: kafka-client
  mountPath: /etc/borderfusion/kafka-client
  readOnly: true
{{- end }}
{{- end -}}

{{/* HTTP probes on the web port's /healthz. */}}
{{- define "borderfusion.httpProbes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /healthz
    port: http
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end -}}

{{/* Pod scheduling and identity shared by every workload. */}}
{{- define "borderfusion.podCommon" -}}
serviceAccountName: {{ include "borderfusion.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Topics a worker role consumes, as a PromQL regex (for the KEDA lag query). */}}
{{- define "borderfusion.roleTopicsRegex" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $p := regexQuoteMeta $root.Values.kafka.topicPrefix | replace "\\" "\\\\" -}}
{{- if eq $role "ingest" -}}
{{ $p }}readings\\..*
{{- else if eq $role "fusion" -}}
{{ $p }}observations
{{- else -}}
{{ $p }}(tracks|alerts\\.acks)
{{- end -}}
{{- end -}}

{{/* Users file (web logins, the Prometheus `metrics` token) for every worker pod. */}}
{{- define "borderfusion.usersSecretName" -}}
{{- default (printf "%s-users" (include "borderfusion.fullname" .)) .Values.users.existingSecret -}}
{{- end -}}

{{- define "borderfusion.hasUsers" -}}
{{- if or .Values.users.existingSecret .Values.users.file -}}true{{- end -}}
{{- end -}}

{{- define "borderfusion.usersEnv" -}}
{{- if include "borderfusion.hasUsers" . }}
- name: BORDERFUSION_USERS_FILE
  value: /etc/borderfusion/users/users.yaml
{{- end }}
{{- end -}}

{{- define "borderfusion.usersVolume" -}}
{{- if include "borderfusion.hasUsers" . }}
- name: users
  secret:
    secretName: {{ include "borderfusion.usersSecretName" . }}
    defaultMode: 0440
    items:
      - key: users.yaml
        path: users.yaml
{{- end }}
{{- end -}}

{{- define "borderfusion.usersVolumeMount" -}}
{{- if include "borderfusion.hasUsers" . }}
- name: users
  mountPath: /etc/borderfusion/users
  readOnly: true
{{- end }}
{{- end -}}

{{- define "borderfusion.metricsTokenSecretName" -}}
{{- default (printf "%s-metrics-token" (include "borderfusion.fullname" .)) .Values.metrics.serviceMonitor.tokenSecret -}}
{{- end -}}

{{- define "borderfusion.deliverySecretName" -}}
{{- default (printf "%s-delivery" (include "borderfusion.fullname" .)) .Values.delivery.existingSecret -}}
{{- end -}}
