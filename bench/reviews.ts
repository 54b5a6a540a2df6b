// Realistic AdmissionReviews: a Deployment of a few KB with several containers, and a Pod.

const container = (name: string, i: number) => ({
  name,
  image: `registry.example.com/team/${name}:1.${i}.0@sha256:${'a'.repeat(64)}`,
  imagePullPolicy: 'IfNotPresent',
  args: ['--config=/etc/app/config.yaml', `--port=${8080 + i}`, '--log-format=json'],
  ports: [{ name: 'http', containerPort: 8080 + i, protocol: 'TCP' }],
  env: [
    { name: 'APP_ENV', value: 'production' },
    { name: 'DATABASE_URL', value: 'postgres://app:$(GRAFANA_DB)@postgres.db.svc:5432/app?sslmode=require' },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
  ],
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
  readinessProbe: { httpGet: { path: '/ready', port: 8080 + i }, periodSeconds: 5 },
  livenessProbe: { httpGet: { path: '/health', port: 8080 + i }, periodSeconds: 10 },
  volumeMounts: [{ name: 'config', mountPath: '/etc/app' }, { name: 'tmp', mountPath: '/tmp' }],
  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
})

export function deployment(namespace: string, sharedSecret: string) {
  const containers = ['grafana', 'renderer', 'sidecar-proxy', 'log-shipper'].map(container)
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: {
      name: 'grafana', namespace, labels: { 'app.kubernetes.io/name': 'grafana', 'app.kubernetes.io/part-of': 'observability' },
      annotations: { 'deployment.kubernetes.io/revision': '7', 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(1500) },
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'grafana' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'grafana' }, annotations: { 'secretwire.io/shared-secret': sharedSecret, 'secretwire.io/containers': 'grafana,renderer' } },
        spec: {
          serviceAccountName: 'grafana',
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers,
          volumes: [{ name: 'config', configMap: { name: 'grafana' } }, { name: 'tmp', emptyDir: {} }],
        },
      },
    },
  }
}

export function pod(namespace: string, sharedSecret: string, name = 'worker-7d9f8') {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'worker' }, annotations: { 'secretwire.io/shared-secret': sharedSecret } },
    spec: { containers: [container('worker', 1), container('metrics', 2)], volumes: [{ name: 'config', configMap: { name: 'worker' } }, { name: 'tmp', emptyDir: {} }] },
  }
}

export function review(object: { apiVersion: string, kind: string, metadata: { namespace: string } }, uid = 'bench') {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion]
  return {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid, kind: { group, version, kind: object.kind },
      resource: { group, version, resource: `${object.kind.toLowerCase()}s` },
      operation: 'CREATE', namespace: object.metadata.namespace, object,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
      dryRun: false,
    },
  }
}
