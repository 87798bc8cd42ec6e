import { describe, expect, it } from 'vitest';
import { sentimentModel } from '../../testing/fixtures.js';
import { childMeta, childNames, endpoint, labels, modelSummary, ownerReference, selectorLabels, selectorString } from './names.js';

const model = sentimentModel({}, 'reviews');

describe('names', () => {
  it('names children after the model', () => {
    expect(childNames(model)).toEqual({ deployment: 'reviews', service: 'reviews', pdb: 'reviews', configMap: 'reviews-runtime-config' });
  });

  it('labels with the recommended app.kubernetes.io keys and the model key', () => {
    expect(labels(model)).toEqual({
      'app.kubernetes.io/name': 'sentiment-runtime',
      'app.kubernetes.io/instance': 'reviews',
      'app.kubernetes.io/managed-by': 'sentiment-operator',
      'serving.sentiment.dev/model': 'reviews',
    });
  });

  it('selects with a subset of the labels, and renders it for the scale subresource', () => {
    expect(labels(model)).toMatchObject(selectorLabels(model));
    expect(selectorString(model)).toBe('app.kubernetes.io/name=sentiment-runtime,serving.sentiment.dev/model=reviews');
  });

  it('makes the SentimentModel the controlling owner so deletion garbage-collects children', () => {
    expect(ownerReference(model)).toEqual({
      apiVersion: 'serving.sentiment.dev/v1alpha1',
      kind: 'SentimentModel',
      name: 'reviews',
      uid: 'uid-reviews',
      controller: true,
      blockOwnerDeletion: true,
    });
    expect(childMeta(model, 'x')).toMatchObject({ name: 'x', namespace: 'ml', ownerReferences: [ownerReference(model)] });
  });

  it('builds the in-cluster endpoint from the Service name', () => {
    expect(endpoint(model, 'cluster.local')).toBe('http://reviews.ml.svc.cluster.local');
  });

  it.each([
    [{ image: { reference: 'm:1', path: '/model' } }, 'm:1'],
    [{ pvc: { claimName: 'models', path: '/sst2', readOnly: true } }, 'pvc:models/sst2'],
    [{ url: { url: 'https://example.com/m.tgz', sha256: 'a'.repeat(64) } }, 'https://example.com/m.tgz'],
    [{ url: { url: 'https://bucket.s3.example.com/m.tgz?X-Amz-Signature=abc&X-Amz-Credential=key#frag', sha256: 'a'.repeat(64) } }, 'https://bucket.s3.example.com/m.tgz?<redacted>'],
    [{ url: { url: 'https://user:secret@example.com/m.tgz', sha256: 'a'.repeat(64) } }, 'https://example.com/m.tgz'],
  ])('summarises the model source %j', (source, summary) => {
    expect(modelSummary(source)).toBe(summary);
  });
});
