import { describe, expect, it } from 'vitest';
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { ANNOTATION_MODEL_SOURCE } from '../../api/v1alpha1/index.js';
import { sentimentModel } from '../../testing/fixtures.js';
import { desiredDraft } from './desired.js';

const SHA = 'e'.repeat(64);
type UrlInput = NonNullable<NonNullable<NonNullable<Parameters<typeof sentimentModel>[0]>['model']>['url']>;
const PRESIGNED = 'https://bucket.s3.example.com/sst2.tar.gz?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=s3cr3t';

function draftOf(url: UrlInput) {
  const draft = desiredDraft(sentimentModel({ model: { url: { sha256: SHA, ...url } } }), { imageVolumes: false, clusterDomain: 'cluster.local' });
  const pod = draft.podTemplate.spec as V1PodSpec;
  return { draft, pod, fetch: pod.initContainers?.[0] as V1Container, runtime: pod.containers[0]! };
}

describe('modelDelivery: URL models', () => {
  it('hands a public URL to the fetch init container in its environment, not its arguments', () => {
    const { draft, fetch } = draftOf({ url: PRESIGNED });
    expect(fetch.command).toEqual(['node', 'dist/runtime/src/main.js', 'fetch', '--sha256', SHA, '--dest', '/models/model']);
    expect(fetch.env).toEqual([{ name: 'SENTIMENT_FETCH_URL', value: PRESIGNED }]);
    // The pod-template annotation (and from it status.revisions) shows the URL without its query.
    expect(draft.podTemplate.metadata?.annotations?.[ANNOTATION_MODEL_SOURCE]).toBe('https://bucket.s3.example.com/sst2.tar.gz?<redacted>');
    // The spec's URL reaches the pod template once, where the download needs it: no other field or object repeats it.
    expect(JSON.stringify(draft).split('s3cr3t')).toHaveLength(2);
  });

  it('names a Secret-held URL for the kubelet to inject: the operator never holds its value', () => {
    const { draft, fetch } = draftOf({ urlSecretRef: { name: 'model-url', key: 'presigned' } });
    expect(fetch.env).toEqual([{ name: 'SENTIMENT_FETCH_URL', valueFrom: { secretKeyRef: { name: 'model-url', key: 'presigned' } } }]);
    expect(fetch.command).not.toContain('--url');
    expect(draft.podTemplate.metadata?.annotations?.[ANNOTATION_MODEL_SOURCE]).toBe('secret:model-url/presigned');
  });

  it('mounts the headers Secret, readable by the pod group only, into the fetch container alone', () => {
    const { pod, fetch, runtime } = draftOf({ url: 'https://models.example/m.tar.gz', headersSecretRef: { name: 'model-token' } });
    expect(pod.volumes).toContainEqual({ name: 'model-headers', secret: { secretName: 'model-token', defaultMode: 0o440 } });
    expect(fetch.volumeMounts).toContainEqual({ name: 'model-headers', mountPath: '/var/run/sentiment-runtime/model-headers', readOnly: true });
    expect(fetch.command?.join(' ')).toContain('--headers-dir /var/run/sentiment-runtime/model-headers');
    expect(runtime.volumeMounts?.map((m) => m.name)).not.toContain('model-headers');
  });

  it('mounts the CA ConfigMap key as one file and passes it with --ca-file', () => {
    const { pod, fetch } = draftOf({ url: 'https://models.internal/m.tar.gz', caConfigMapRef: { name: 'internal-ca', key: 'root.pem' } });
    expect(pod.volumes).toContainEqual({ name: 'model-ca', configMap: { name: 'internal-ca', items: [{ key: 'root.pem', path: 'ca.crt' }] } });
    expect(fetch.volumeMounts).toContainEqual({ name: 'model-ca', mountPath: '/var/run/sentiment-runtime/model-ca', readOnly: true });
    expect(fetch.command?.join(' ')).toContain('--ca-file /var/run/sentiment-runtime/model-ca/ca.crt');
  });

  it('defaults the CA key to ca.crt, as cert-manager and trust-manager write it', () => {
    const { pod } = draftOf({ url: 'https://models.internal/m.tar.gz', caConfigMapRef: { name: 'internal-ca' } });
    expect(pod.volumes).toContainEqual({ name: 'model-ca', configMap: { name: 'internal-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
  });

  it("makes a new revision when the sha256, the model's identity, changes", () => {
    const hash = (url: UrlInput) => draftOf(url).draft.podTemplate.metadata?.annotations?.['serving.sentiment.dev/template-hash'];
    const ref = { urlSecretRef: { name: 'model-url', key: 'presigned' } };
    expect(hash({ ...ref, sha256: 'f'.repeat(64) })).not.toBe(hash(ref));
  });
});
