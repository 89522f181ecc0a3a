{{/*
Chart name, overridable by nameOverride; 63 characters is the DNS label limit.
*/}}
{{- define "sticky-ingress.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: fullnameOverride, else "<release>-<chart>", or the
release name alone when it already contains the chart name.
*/}}
{{- define "sticky-ingress.fullname" -}}
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

{{/*
"name-version" for the helm.sh/chart label.
*/}}
{{- define "sticky-ingress.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "sticky-ingress.labels" -}}
helm.sh/chart: {{ include "sticky-ingress.chart" . }}
{{ include "sticky-ingress.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sticky-ingress
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels that select the controller pods; they never change across upgrades (a
Deployment's selector is immutable).
*/}}
{{- define "sticky-ingress.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sticky-ingress.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount the controller runs as.
*/}}
{{- define "sticky-ingress.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sticky-ingress.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret holding the cookie keys: the user's, or the one the chart generates.
*/}}
{{- define "sticky-ingress.cookieKeySecretName" -}}
{{- if .Values.cookieKey.existingSecret }}
{{- .Values.cookieKey.existingSecret }}
{{- else }}
{{- printf "%s-cookie-key" (include "sticky-ingress.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The controller image: repository@digest when a digest is set, else repository:tag.
*/}}
{{- define "sticky-ingress.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
What goes into Ingress status.loadBalancer: the chosen Service, else this chart's own.
*/}}
{{- define "sticky-ingress.publishService" -}}
{{- default (printf "%s/%s" .Release.Namespace (include "sticky-ingress.fullname" .)) .Values.publishService }}
{{- end }}
