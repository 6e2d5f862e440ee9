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

{{- define "paved.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "paved.fullname" .) .Values.serviceAccount.name }}
{{- else -}}{{ required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}
