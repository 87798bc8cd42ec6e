import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ANNOTATION_TEMPLATE_HASH, type SentimentModel } from '../../api/v1alpha1/index.js';
import { sentimentModel } from '../../testing/fixtures.js';
import { desiredObjects } from './desired.js';
import type { ClusterFacts } from './facts.js';

const facts: ClusterFacts = { imageVolumes: true, clusterDomain: 'cluster.local', rolloutStrategy: 'Surge' };
const hashOf = (model: SentimentModel, f: ClusterFacts = facts) =>
  desiredObjects(model, f).deployment.spec?.template.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH];

describe('desiredObjects', () => {
  it('builds the four children, with the config pointing at the delivered model', () => {
    const objects = desiredObjects(sentimentModel({ model: { image: { reference: 'm:1', path: '/onnx/sst2' } } }), facts);
    expect(Object.keys(objects)).toEqual(['configMap', 'deployment', 'service', 'pdb']);
    expect(parse(objects.configMap.data?.['config.yaml'] ?? '').model.path).toBe('/models/onnx/sst2');
  });

  it('is deterministic', () => {
    expect(desiredObjects(sentimentModel(), facts)).toEqual(desiredObjects(sentimentModel(), facts));
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
      expect(hashOf(sentimentModel(), { ...facts, rolloutStrategy: 'Replace' })).toBe(base);
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
