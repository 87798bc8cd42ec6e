import { describe, expect, it } from 'vitest';
import { sentimentModel } from '../../testing/fixtures.js';
import { makeService } from './service.js';

describe('makeService', () => {
  it('exposes port 80 on ClusterIP, forwarding to the named http container port', () => {
    const svc = makeService(sentimentModel());
    expect(svc).toMatchObject({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'demo', namespace: 'ml', ownerReferences: [expect.objectContaining({ kind: 'SentimentModel', controller: true })] },
      spec: {
        type: 'ClusterIP',
        selector: { 'app.kubernetes.io/name': 'sentiment-runtime', 'serving.sentiment.dev/model': 'demo' },
        ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }],
      },
    });
  });
});
