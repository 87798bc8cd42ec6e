// Scheduling that uses every field the SentimentModel takes, valid by the core/v1 rules: the CRD
// must accept it (operator-validation) and so must the apiserver as a Deployment (operator-apply-refused).
export const FULL_SCHEDULING = {
  nodeSelector: { 'node.kubernetes.io/instance-type': 'g5.xlarge', pool: '' },
  tolerations: [
    { key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
  ],
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-west-1a', 'eu-west-1b'] }, { key: 'gpu-memory-gb', operator: 'Gt', values: ['20'] }] }],
      },
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node-7'] }] } }],
    },
    podAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['feature-store'] }] }, namespaces: ['features'] }],
    },
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [{
        weight: 100,
        podAffinityTerm: {
          topologyKey: 'kubernetes.io/hostname',
          labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'sentiment-runtime' } },
          namespaceSelector: {},
          matchLabelKeys: ['pod-template-hash'],
        },
      }],
    },
  },
};
