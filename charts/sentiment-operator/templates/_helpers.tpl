{{- define "sentiment-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sentiment-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sentiment-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "sentiment-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sentiment-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sentiment-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "sentiment-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sentiment-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sentiment-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The runtime pods the operator creates carry this label; monitors and alerts select on it. */}}
{{- define "sentiment-operator.runtimeSelector" -}}
app.kubernetes.io/managed-by: sentiment-operator
{{- end -}}

{{/* "true" when the cluster serves the Prometheus Operator's API: monitors and alerts are
rendered only then, so a plain `helm install` works on a cluster without its CRDs. */}}
{{- define "sentiment-operator.hasMonitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end -}}
{{- end -}}

{{/* The router's pods: the operator's name and instance, component router. */}}
{{- define "sentiment-operator.routerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "sentiment-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: router
{{- end -}}

{{- define "sentiment-operator.routerName" -}}
{{- printf "%s-router" (include "sentiment-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
