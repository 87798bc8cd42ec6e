import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { revisionOf, revisions } from './revisions.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const revision = (templateHash: string, model: string) => ({ templateHash, model, runtimeImage: 'ghcr.io/example/sentiment-runtime:0.1.0', quantization: 'int8' });
const annotations = (r: ReturnType<typeof revision>) => ({
  'serving.sentiment.dev/template-hash': r.templateHash, 'serving.sentiment.dev/model-source': r.model,
  'serving.sentiment.dev/runtime-image': r.runtimeImage, 'serving.sentiment.dev/quantization': r.quantization,
});
const OLD = revision(A, 'ghcr.io/example/sst2-model:1.0.0');
const NEW = revision(B, 'ghcr.io/example/sst2-model:1.0.1');
const STALE = revision(C, 'ghcr.io/example/sst2-model:0.9.0');

function pod(r: ReturnType<typeof revision>, ready = true, terminating = false): V1Pod {
  return {
    metadata: { name: 'p', annotations: annotations(r), ...(terminating ? { deletionTimestamp: new Date() } : {}) },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

describe('revisionOf', () => {
  it('reads the revision annotations, and tolerates templates that carry only the hash', () => {
    expect(revisionOf({ annotations: annotations(NEW) })).toEqual(NEW);
    expect(revisionOf({ annotations: { 'serving.sentiment.dev/template-hash': A } })).toEqual({ templateHash: A });
    expect(revisionOf({})).toBeUndefined();
  });

  it("redacts a full URL an earlier operator build wrote into a pod's annotations", () => {
    const legacy = revision(A, 'https://bucket.example/m.tar.gz?X-Amz-Signature=s3cr3t');
    expect(revisionOf({ annotations: annotations(legacy) })?.model).toBe('https://bucket.example/m.tar.gz?<redacted>');
  });
});

describe('revisions', () => {
  it('shows only the serving revision when the spec\'s is the one serving', () => {
    expect(revisions(NEW, [pod(NEW), pod(NEW)], 2)).toEqual({ serving: NEW });
  });

  it('keeps the old revision serving while any of its pods is ready, the new one rolling out', () => {
    expect(revisions(NEW, [pod(OLD), pod(OLD)], 2)).toEqual({ serving: OLD, rollingOutTo: NEW });
    expect(revisions(NEW, [pod(OLD), pod(NEW), pod(NEW)], 2)).toEqual({ serving: OLD, rollingOutTo: NEW });
  });

  it('switches to the new revision once the old pods are gone, terminating or unready', () => {
    expect(revisions(NEW, [pod(OLD, true, true), pod(OLD, false), pod(NEW), pod(NEW)], 2)).toEqual({ serving: NEW });
  });

  it('takes the older revision with the most ready pods when a rollout was replaced mid-way', () => {
    expect(revisions(NEW, [pod(STALE), pod(OLD), pod(OLD), pod(NEW, false)], 3)).toEqual({ serving: OLD, rollingOutTo: NEW });
  });

  it('has nothing serving before the first pod is ready, and nothing rolling out at zero replicas', () => {
    expect(revisions(NEW, [pod(NEW, false)], 1)).toEqual({ rollingOutTo: NEW });
    expect(revisions(NEW, [], 0)).toEqual({});
  });
});
