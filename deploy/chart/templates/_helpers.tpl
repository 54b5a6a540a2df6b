{{/* Labels Helm's conventions add to every object; the kustomize install has none of them. */}}
{{- define "secretwire.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The namespace secretwire runs in. Fixed: the admission policies let only system:serviceaccount:secretwire:secretwire
reach the store (src/core/contract.ts), so an install elsewhere would be refused by its own guard.
*/}}
{{- define "secretwire.namespace" -}}
{{- if ne .Release.Namespace "secretwire" -}}
{{- fail (printf "install secretwire into the namespace secretwire (helm install -n secretwire), not %q: its admission policies trust system:serviceaccount:secretwire:secretwire by name" .Release.Namespace) -}}
{{- end -}}
secretwire
{{- end }}

{{/* The serving certificate's DNS names: the Service, as the API server calls it. */}}
{{- define "secretwire.dnsNames" -}}
{{- list "secretwire.secretwire.svc" "secretwire.secretwire.svc.cluster.local" | toJson -}}
{{- end }}
