import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ANNOTATION_TEMPLATE_HASH, type SentimentModel } from '../../api/v1alpha1/index.js';
import { sentimentModel } from '../../testing/fixtures.js';
import { templateHashOf } from './deployment.js';
import { desiredDraft, withStrategy } from './desired.js';
import type { ClusterFacts } from './facts.js';

const facts: ClusterFacts = { imageVolumes: true, clusterDomain: 'cluster.local' };
const hashOf = (model: SentimentModel, f: ClusterFacts = facts) => desiredDraft(model, f).podTemplate.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH];

describe('desiredDraft and withStrategy', () => {
  it('build the four children, with the config pointing at the delivered model and the Deployment at the template', () => {
    const model = sentimentModel({ model: { image: { reference: 'm:1', path: '/onnx/sst2' } } });
    const draft = desiredDraft(model, facts);
    const objects = withStrategy(model, draft, 'Surge');
    expect(Object.keys(objects)).toEqual(['configMap', 'deployment', 'service', 'pdb']);
    expect(parse(objects.configMap.data?.['config.yaml'] ?? '').model.path).toBe('/models/onnx/sst2');
    expect(objects.deployment.spec?.template).toBe(draft.podTemplate);
  });

  describe('pod-template hash', () => {
    const base = hashOf(sentimentModel());

    it('is a sha256 hex digest', () => {
      expect(base).toMatch(/^[a-f0-9]{64}$/);
    });

    it.each<[string, Parameters<typeof sentimentModel>[0]]>([
      ['nothing', {}],
      ['replicas', { replicas: 5 }],
      ['the rollout', { rollout: { strategy: 'Replace', progressDeadlineSeconds: 900 } }],
      ['autoscaling', { autoscaling: { enabled: true, maxReplicas: 20 } }],
    ])('stays when %s changes', (_name, spec) => {
      expect(hashOf(sentimentModel(spec))).toBe(base);
    });

    it.each<[string, Parameters<typeof sentimentModel>[0]]>([
      ['the model image tag', { model: { image: { reference: 'ghcr.io/example/sst2-model:1.0.1' } } }],
      ['the model path', { model: { image: { reference: 'ghcr.io/example/sst2-model:1.0.0', path: '/other' } } }],
      ['the runtime image', { runtime: { image: 'ghcr.io/example/sentiment-runtime:0.2.0' } }],
      ['the quantization', { quantization: 'none' }],
      ['batching (config only)', { batching: { maxBatchSize: 64 } }],
      ['the cache (config only)', { cache: { ttlSeconds: 30 } }],
      ['the sequence length (config only)', { maxSequenceLength: 256 }],
      ['resources', { resources: { limits: { memory: '2Gi' } } }],
    ])('changes when %s changes', (_name, spec) => {
      expect(hashOf(sentimentModel(spec))).not.toBe(base);
    });

    it('stays when the chosen rollout strategy changes, which the reconciler decides from this hash', () => {
      const model = sentimentModel();
      const draft = desiredDraft(model, facts);
      expect(templateHashOf(withStrategy(model, draft, 'Replace').deployment)).toBe(base);
      expect(templateHashOf(withStrategy(model, draft, 'Surge').deployment)).toBe(base);
    });

    it('changes when the model delivery changes with the cluster', () => {
      expect(hashOf(sentimentModel(), { ...facts, imageVolumes: false })).not.toBe(base);
    });

    it('ignores the order in which map fields arrive', () => {
      const a = sentimentModel({ scheduling: { nodeSelector: { a: '1', b: '2' } } });
      const b = sentimentModel({ scheduling: { nodeSelector: { b: '2', a: '1' } } });
      expect(hashOf(a)).toBe(hashOf(b));
    });
  });
});
