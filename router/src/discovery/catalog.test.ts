import type { V1EndpointSlice } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { sentimentModel } from '../../../operator/src/testing/fixtures.js';
import { Catalog, endpointAddress, routedModel, sameRoute } from './catalog.js';

const slice = (service: string, endpoints: { ip: string; ready: boolean; pod?: string }[], port = 8080): V1EndpointSlice => ({
  addressType: 'IPv4',
  metadata: { name: `${service}-abc`, namespace: 'ml', labels: { 'kubernetes.io/service-name': service } },
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready }, ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace: 'ml' } } : {}) })),
});

describe('routedModel', () => {
  it('keeps a canary step with the ready pods of Service <name>-canary, and compares routes by it', () => {
    const model = sentimentModel({}, 'reviews');
    const inCanary = (step: number) => ({
      ...model,
      spec: { ...model.spec, rollout: { ...model.spec.rollout, canary: { steps: [{ shadowPercent: 100, texts: 10 }, { weightPercent: 10, texts: 10 }] } } },
      status: { canary: { phase: 'Analyzing', revision: 'c0ffee', step } },
    }) as unknown as typeof model;
    const slices = [slice('reviews', [{ ip: '10.0.0.1', ready: true }]), slice('reviews-canary', [{ ip: '10.0.1.2', ready: true }, { ip: '10.0.1.1', ready: true }, { ip: '10.0.1.3', ready: false }])];
    const seen: string[] = [];
    const routed = routedModel(inCanary(1), slices, (e) => {
      seen.push(e.service);
      return endpointAddress(e);
    });
    expect(routed.ready).toEqual(['http://10.0.0.1:8080']);
    expect(routed.canary).toEqual({ revision: 'c0ffee', step: 1, weightPercent: 10, negativeLabel: 'negative', ready: ['http://10.0.1.1:8080', 'http://10.0.1.2:8080'] });
    expect(new Set(seen)).toEqual(new Set(['reviews', 'reviews-canary']));
    expect(routedModel(model, slices, endpointAddress).canary).toBeUndefined();
    expect(sameRoute(routed, routedModel(inCanary(1), slices, endpointAddress))).toBe(true);
    expect(sameRoute(routed, routedModel(inCanary(0), slices, endpointAddress))).toBe(false);
    expect(sameRoute(routed, routedModel(inCanary(1), slices.slice(0, 1), endpointAddress))).toBe(false);
    expect(sameRoute(routed, routedModel(model, slices, endpointAddress))).toBe(false);
  });

  it('lists the ready endpoints of the model\'s own Service only, as base URLs', () => {
    const model = sentimentModel({ replicas: 3 }, 'reviews');
    const routed = routedModel(model, [
      slice('reviews', [{ ip: '10.0.0.2', ready: true }, { ip: '10.0.0.1', ready: true }, { ip: '10.0.0.3', ready: false }]),
      slice('other', [{ ip: '10.0.9.9', ready: true }]),
      slice('reviews', [{ ip: 'fd00::5', ready: true }]),
    ], endpointAddress);
    expect(routed).toMatchObject({ namespace: 'ml', name: 'reviews', replicas: 3, wakeable: false, languages: [] });
    expect(routed.ready).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://[fd00::5]:8080']);
  });

  it('is wakeable only for the builtin autoscaler with minReplicas 0', () => {
    const on = { enabled: true, engine: 'builtin' as const, minReplicas: 0 };
    expect(routedModel(sentimentModel({ replicas: 0, autoscaling: on }), [], endpointAddress).wakeable).toBe(true);
    expect(routedModel(sentimentModel({ replicas: 0, autoscaling: { ...on, minReplicas: 1 } }), [], endpointAddress).wakeable).toBe(false);
    expect(routedModel(sentimentModel({ replicas: 0, autoscaling: { ...on, engine: 'external' } }), [], endpointAddress).wakeable).toBe(false);
    expect(routedModel(sentimentModel({ replicas: 0 }), [], endpointAddress).wakeable).toBe(false);
  });

  it('resolves addresses through the injected function, which sees the pod', () => {
    const routed = routedModel(sentimentModel({}, 'reviews'), [slice('reviews', [{ ip: '10.0.0.1', ready: true, pod: 'reviews-1' }, { ip: '10.0.0.2', ready: true }])],
      (e) => (e.pod ? `http://127.0.0.1:9/${e.pod}` : undefined));
    expect(routed.ready).toEqual(['http://127.0.0.1:9/reviews-1']);
  });

  it('compares routes by what routing reads', () => {
    const a = routedModel(sentimentModel({}, 'reviews'), [slice('reviews', [{ ip: '10.0.0.1', ready: true }])], endpointAddress);
    const b = routedModel(sentimentModel({}, 'reviews'), [slice('reviews', [{ ip: '10.0.0.1', ready: true }])], endpointAddress);
    expect(sameRoute(a, b)).toBe(true);
    expect(sameRoute(a, { ...b, ready: [] })).toBe(false);
    expect(sameRoute(a, undefined)).toBe(false);
    const routing = { languages: [{ language: 'zh', model: 'reviews-zh' }] };
    const zh = routedModel(sentimentModel({ routing }, 'reviews'), [slice('reviews', [{ ip: '10.0.0.1', ready: true }])], endpointAddress);
    expect(zh.languages).toEqual([{ language: 'zh', scripts: ['Hani'], model: 'reviews-zh' }]);
    expect(sameRoute(a, zh)).toBe(false);
  });
});

describe('Catalog', () => {
  const model = (namespace: string, name: string) => ({ namespace, name, uid: `${namespace}-${name}`, ready: [], replicas: 1, wakeable: false, languages: [] });

  it('resolves a bare name held by one namespace, and name.namespace always', () => {
    const catalog = new Catalog();
    catalog.set(model('shop', 'reviews'));
    expect(catalog.resolve('reviews')).toMatchObject({ namespace: 'shop' });
    expect(catalog.resolve('reviews.shop')).toMatchObject({ namespace: 'shop' });
    expect(catalog.resolve('reviews.other')).toEqual({ missing: 'unknown model "reviews.other"' });
    expect(catalog.resolve('nope')).toEqual({ missing: 'unknown model "nope"' });
  });

  it('refuses a bare name two namespaces hold, naming both, and shows them qualified', () => {
    const catalog = new Catalog();
    catalog.set(model('shop', 'reviews'));
    catalog.set(model('blog', 'reviews'));
    catalog.set(model('blog', 'posts'));
    expect(catalog.resolve('reviews')).toEqual({ missing: 'model "reviews" exists in several namespaces; name one: reviews.blog, reviews.shop' });
    expect(catalog.list().map((m) => catalog.displayName(m))).toEqual(['posts', 'reviews.blog', 'reviews.shop']);
    catalog.delete('blog', 'reviews');
    expect(catalog.resolve('reviews')).toMatchObject({ namespace: 'shop' });
  });
});
