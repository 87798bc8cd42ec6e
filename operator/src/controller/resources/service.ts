import type { V1Service } from '@kubernetes/client-node';
import type { SentimentModel } from '../../api/v1alpha1/index.js';
import { childMeta, childNames, selectorLabels } from './names.js';
import { HTTP_PORT_NAME } from './pod-defaults.js';

export function makeService(model: SentimentModel): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(model, childNames(model).service),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(model),
      // Targeting the port by name lets a new runtime image move the port without a Service change.
      ports: [{ name: HTTP_PORT_NAME, port: 80, targetPort: HTTP_PORT_NAME, protocol: 'TCP', appProtocol: 'http' }],
    },
  };
}
