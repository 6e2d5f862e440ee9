{{- define "platform.labels" -}}
app.kubernetes.io/part-of: paved-platform
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- /* The object store's endpoint and keys, under the names MLflow, boto3 and kserve-storage read. */ -}}
{{- define "platform.objectStoreEnv" -}}
- {name: MLFLOW_S3_ENDPOINT_URL, value: {{ printf "http://objectstore.%s.svc:8080" .Release.Namespace | quote }}}
- {name: AWS_ENDPOINT_URL, value: {{ printf "http://objectstore.%s.svc:8080" .Release.Namespace | quote }}}
- {name: AWS_DEFAULT_REGION, value: {{ .Values.objectStore.region | quote }}}
{{- range $variable := list "AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY" }}
- name: {{ $variable }}
  valueFrom: {secretKeyRef: {name: {{ $.Values.objectStore.secretName | quote }}, key: {{ $variable }}}}
{{- end }}
{{- end -}}

{{- /*
The object store's keys, as YAML: those of its Secret when the cluster has it (kept across
upgrades), else generated. Generated once per render (remembered in .Values), so the object
store's Secret and the storage initializers' Secrets (seldon.yaml) hold the same pair.
*/ -}}
{{- define "platform.objectStoreKeys" -}}
{{- if not (hasKey .Values "generatedObjectStoreKeys") }}
{{- $kept := lookup "v1" "Secret" .Release.Namespace .Values.objectStore.secretName }}
{{- $keys := dict }}
{{- if $kept }}
{{- range $key, $value := $kept.data }}
{{- $_ := set $keys $key (b64dec $value) }}
{{- end }}
{{- else if not .Values.objectStore.existingSecret }}
{{- $keys = dict "AWS_ACCESS_KEY_ID" (printf "paved-%s" (randAlphaNum 12 | lower)) "AWS_SECRET_ACCESS_KEY" (randAlphaNum 48) }}
{{- end }}
{{- $_ := set .Values "generatedObjectStoreKeys" $keys }}
{{- end }}
{{- toYaml .Values.generatedObjectStoreKeys }}
{{- end -}}

{{- /*
One platform service: a Deployment of one non-root container with a read-only root, its state
on a volume (values' `volume`, an emptyDir when empty) and a Service of the same name. `root`
is the chart's context; the rest describes the component:
  name, image ({repository, tag}), args, env, port, probe (an HTTP path; TCP when empty),
  stateAt (where the volume goes), volume, resources, and optionally serviceAccount, command
  (instead of the image's entrypoint),
  initCommand (run first in the same image, with the volume), scrape (pod annotations for
  Prometheus), extraVolumes/extraMounts.
*/ -}}
{{- define "platform.workload" -}}
{{- $root := .root }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels: {{- include "platform.labels" $root | nindent 4 }}
    app.kubernetes.io/name: {{ .name }}
spec:
  replicas: 1
  # One writer of the volume at a time.
  strategy: {type: Recreate}
  selector:
    matchLabels: {app.kubernetes.io/part-of: paved-platform, app.kubernetes.io/instance: {{ $root.Release.Name }}, app.kubernetes.io/name: {{ .name }}}
  template:
    metadata:
      labels: {app.kubernetes.io/part-of: paved-platform, app.kubernetes.io/instance: {{ $root.Release.Name }}, app.kubernetes.io/name: {{ .name }}}
      {{- with .scrape }}
      annotations: {"prometheus.io/scrape": "true", "prometheus.io/port": {{ . | quote }}}
      {{- end }}
    spec:
      # No Service links: a Service named mlflow would set MLFLOW_PORT=tcp://… in every Pod,
      # and MLflow's server reads MLFLOW_PORT as its port.
      enableServiceLinks: false
      {{- with .serviceAccount }}
      serviceAccountName: {{ . }}
      {{- else }}
      automountServiceAccountToken: false
      {{- end }}
      securityContext: {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- $image := printf "%s:%s" .image.repository .image.tag }}
      {{- with .initCommand }}
      initContainers:
        - name: prepare
          image: {{ $image | quote }}
          imagePullPolicy: {{ $root.Values.images.pullPolicy }}
          command: {{- toYaml . | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts: [{name: state, mountPath: {{ $.stateAt | quote }}}]
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ $image | quote }}
          imagePullPolicy: {{ $root.Values.images.pullPolicy }}
          {{- with .command }}
          command: {{- toYaml . | nindent 12 }}
          {{- end }}
          args: {{- toYaml .args | nindent 12 }}
          env:
            - {name: HOME, value: /tmp}
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports: [{name: serve, containerPort: {{ .port }}}]
          readinessProbe:
            {{- if .probe }}
            httpGet: {path: {{ .probe }}, port: serve, httpHeaders: [{name: Host, value: localhost}]}
            {{- else }}
            tcpSocket: {port: serve}
            {{- end }}
            periodSeconds: 5
          resources: {{- toYaml .resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            - {name: state, mountPath: {{ .stateAt | quote }}}
            {{- with .extraMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - {name: tmp, emptyDir: {}}
        - name: state
          {{- if .volume }}
          {{- toYaml .volume | nindent 10 }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        {{- with .extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels: {{- include "platform.labels" $root | nindent 4 }}
    app.kubernetes.io/name: {{ .name }}
spec:
  selector: {app.kubernetes.io/part-of: paved-platform, app.kubernetes.io/instance: {{ $root.Release.Name }}, app.kubernetes.io/name: {{ .name }}}
  ports:
    - {name: serve, port: {{ .port }}, targetPort: serve}
{{- end -}}
