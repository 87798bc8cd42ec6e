import { describe, expect, it } from 'vitest';
import { CANARY_LABEL } from '#contract/canary.js';
import { sentimentModel } from '../../testing/fixtures.js';
import { candidateReplicas, makeCanaryObjects } from './canary.js';
import { desiredDraft } from './desired.js';
import { makeService } from './service.js';

const facts = { imageVolumes: false, clusterDomain: 'cluster.local' };
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

describe('candidate objects', () => {
  const model = sentimentModel({ replicas: 5, quantization: 'none', rollout: { canary: { steps: [{ shadowPercent: 100 }, { weightPercent: 10 }, { weightPercent: 50 }] } } });
  const draft = desiredDraft(model, facts);
  const { configMap, deployment, service } = makeCanaryObjects(model, draft, 2);

  it('runs the spec\'s template under <model>-canary, with its own ConfigMap, owned by the model', () => {
    expect([deployment.metadata?.name, service.metadata?.name, configMap.metadata?.name]).toEqual(['demo-canary', 'demo-canary', 'demo-canary-runtime-config']);
    expect(configMap.data).toEqual(draft.configMap.data);
    expect(deployment.spec?.template.spec?.volumes?.find((v) => v.name === 'config')?.configMap?.name).toBe('demo-canary-runtime-config');
    expect(deployment.spec?.template.metadata?.annotations).toEqual(draft.podTemplate.metadata?.annotations);
    expect(deployment.spec?.replicas).toBe(2);
    for (const o of [configMap, deployment, service]) {
      expect(o.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'SentimentModel', name: 'demo', controller: true });
      expect(o.metadata?.labels).toMatchObject({ 'serving.sentiment.dev/model': 'demo', [CANARY_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'sentiment-operator' });
    }
  });

  it('keeps candidate pods out of the model\'s Service and Deployment, and stable pods out of the candidate\'s', () => {
    const candidatePod = deployment.spec?.template.metadata?.labels;
    const stablePod = draft.podTemplate.metadata?.labels;
    expect(selects(makeService(model).spec?.selector, candidatePod)).toBe(false);
    expect(selects(service.spec?.selector, candidatePod)).toBe(true);
    expect(selects(deployment.spec?.selector.matchLabels, candidatePod)).toBe(true);
    expect(selects(service.spec?.selector, stablePod)).toBe(false);
    expect(service.spec?.ports?.[0]?.name).toBe('http');
  });

  it('sizes the candidate: one pod for shadow, the step\'s share of the replicas (at least one) for weight', () => {
    const [shadow, ten, fifty] = model.spec.rollout.canary!.steps;
    expect([candidateReplicas(model, shadow!), candidateReplicas(model, ten!), candidateReplicas(model, fifty!)]).toEqual([1, 1, 3]);
  });
});
