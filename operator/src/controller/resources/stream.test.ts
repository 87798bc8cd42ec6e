import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateSettings } from '#contract/config-load.js';
import { RuntimeConfig, streamProblems } from '#contract/runtime-config.js';
import { sentimentModel } from '../../testing/fixtures.js';
import { renderRuntimeConfig, runtimeConfig } from './configmap.js';
import { makePodTemplate } from './deployment.js';
import { modelDelivery } from './model-delivery.js';

const kafka = { bootstrapServers: ['kafka-0.kafka:9093', 'kafka-1.kafka:9093'], inputTopic: 'posts', outputTopic: 'posts-sentiment' };

describe('spec.stream.kafka', () => {
  it('renders a stream section the runtime accepts once the pod env adds the SASL credentials', () => {
    const model = sentimentModel({
      stream: { kafka: { ...kafka, deadLetterTopic: 'posts-dlq', inputField: 'payload.text', tls: { caSecret: { name: 'kafka-ca' }, clientCertificateSecret: { name: 'kafka-client' } }, sasl: { mechanism: 'SCRAM-SHA-512', secretName: 'kafka-user' } } },
    });
    const yaml = renderRuntimeConfig(runtimeConfig(model, '/models/model'));
    expect(yaml).not.toMatch(/sasl(Username|Password)/);
    const rendered = parse(yaml) as RuntimeConfig;
    expect(rendered.stream).toEqual({
      ...kafka,
      deadLetterTopic: 'posts-dlq',
      groupId: 'sentiment.ml.demo',
      inputField: 'payload.text',
      startOffset: 'earliest',
      maxMessageBytes: 1_048_576,
      maxInFlight: 256,
      sessionTimeoutMs: 30_000,
      tls: true,
      tlsCaFile: '/etc/sentiment-kafka/ca/ca.crt',
      tlsCertFile: '/etc/sentiment-kafka/client/tls.crt',
      tlsKeyFile: '/etc/sentiment-kafka/client/tls.key',
      saslMechanism: 'SCRAM-SHA-512',
    });
    const withEnv = { ...rendered, stream: { ...rendered.stream, saslUsername: 'u', saslPassword: 'p' } };
    expect(() => validateSettings(RuntimeConfig, withEnv, streamProblems)).not.toThrow();
  });

  it('gives the pod the credentials by Secret reference only: env from secretKeyRef, TLS files from Secret volumes', () => {
    const model = sentimentModel({
      stream: { kafka: { ...kafka, tls: { caSecret: { name: 'kafka-ca', key: 'bundle.pem' } }, sasl: { mechanism: 'PLAIN', secretName: 'kafka-user', passwordKey: 'secret' } } },
    });
    const template = makePodTemplate(model, modelDelivery(model, { imageVolumes: false }), renderRuntimeConfig(runtimeConfig(model, '/models/model')));
    const runtime = template.spec!.containers[0]!;
    expect(runtime.env).toEqual([
      { name: 'SENTIMENT_STREAM_SASL_USERNAME', valueFrom: { secretKeyRef: { name: 'kafka-user', key: 'username' } } },
      { name: 'SENTIMENT_STREAM_SASL_PASSWORD', valueFrom: { secretKeyRef: { name: 'kafka-user', key: 'secret' } } },
    ]);
    expect(template.spec!.volumes).toContainEqual({ name: 'kafka-ca', secret: { secretName: 'kafka-ca', items: [{ key: 'bundle.pem', path: 'bundle.pem' }], defaultMode: 0o440 } });
    expect(runtime.volumeMounts).toContainEqual({ name: 'kafka-ca', mountPath: '/etc/sentiment-kafka/ca', readOnly: true });
    expect(runtimeConfig(model, '/m').stream.tlsCaFile).toBe('/etc/sentiment-kafka/ca/bundle.pem');
  });

  it('leaves the pod and config without stream settings when unset, and names its own consumer group when given', () => {
    const plain = sentimentModel();
    expect(runtimeConfig(plain, '/m').stream).toEqual({ startOffset: 'earliest', maxMessageBytes: 1_048_576, maxInFlight: 256, sessionTimeoutMs: 30_000, tls: false });
    const template = makePodTemplate(plain, modelDelivery(plain, { imageVolumes: false }), '');
    expect(template.spec!.containers[0]!.env).toBeUndefined();
    expect(template.spec!.volumes!.map((v) => v.name)).not.toContain('kafka-ca');
    expect(runtimeConfig(sentimentModel({ stream: { kafka: { ...kafka, consumerGroup: 'team-a' } } }), '/m').stream.groupId).toBe('team-a');
  });
});
