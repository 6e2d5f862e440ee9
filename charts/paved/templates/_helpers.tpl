{{- define "paved.name" -}}paved{{- end -}}

{{- define "paved.fullname" -}}
{{- if contains "paved" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-paved" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "paved.labels" -}}
app.kubernetes.io/name: paved
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "paved.selectorLabels" -}}
app.kubernetes.io/name: paved
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "paved.featureSelectorLabels" -}}
app.kubernetes.io/name: paved-features
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "paved.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "paved.fullname" .) .Values.serviceAccount.name }}
{{- else -}}{{ required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- /*
The settings (PAVED_*) every process of paved reads: the operator, the feature server and the
stream consumer get the same ones, so they agree on the stores. The object store's endpoint and
credentials (a Secret's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) are for MLflow's S3
artifact client, when objectStore.endpoint is set.
*/ -}}
{{- define "paved.settingsEnv" -}}
- {name: PAVED_REDIS_URL, value: {{ .Values.operator.redisUrl | quote }}}
- {name: PAVED_MLFLOW_TRACKING_URI, value: {{ .Values.operator.mlflowTrackingUri | quote }}}
- {name: PAVED_PROMETHEUS_URL, value: {{ .Values.operator.prometheusUrl | quote }}}
- {name: PAVED_PIPELINE_RUNNER, value: {{ .Values.operator.pipelineRunner | quote }}}
- {name: PAVED_KFP_HOST, value: {{ .Values.operator.kfpHost | quote }}}
{{- with .Values.operator.codeCommit }}
- {name: PAVED_CODE_COMMIT, value: {{ . | quote }}}
{{- end }}
- {name: PAVED_OFFLINE_ENGINE, value: {{ .Values.operator.offlineEngine | quote }}}
- {name: PAVED_SPARK_MASTER, value: {{ .Values.operator.sparkMaster | quote }}}
- {name: PAVED_DATA_ROOT, value: {{ .Values.operator.dataRoot | quote }}}
- {name: PAVED_PREDICTION_LOG_ROOT, value: {{ .Values.operator.predictionLogRoot | default .Values.operator.dataRoot | quote }}}
- {name: PAVED_STATE_DIR, value: /var/lib/paved}
- {name: HOME, value: /tmp}
- {name: PAVED_PEERING_LIFETIME_SECONDS, value: {{ .Values.operator.peeringLifetimeSeconds | quote }}}
- {name: PAVED_VERBOSE, value: {{ .Values.operator.verbose | quote }}}
- {name: MLFLOW_DISABLE_TELEMETRY, value: "true"}
{{- with .Values.objectStore.endpoint }}
- {name: MLFLOW_S3_ENDPOINT_URL, value: {{ . | quote }}}
- {name: AWS_ENDPOINT_URL, value: {{ . | quote }}}
- {name: AWS_DEFAULT_REGION, value: {{ $.Values.objectStore.region | quote }}}
{{- range $variable := list "AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY" }}
- name: {{ $variable }}
  valueFrom: {secretKeyRef: {name: {{ $.Values.objectStore.credentialsSecret | quote }}, key: {{ $variable }}}}
{{- end }}
{{- end }}
{{- end -}}

{{- /* The data root's volume: one the operator and the feature workloads share (RWX) or an emptyDir. */ -}}
{{- define "paved.dataVolume" -}}
- name: data
{{- if .Values.operator.dataVolume }}
{{- toYaml .Values.operator.dataVolume | nindent 2 }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end -}}
