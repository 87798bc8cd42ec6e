import { describe, expect, it } from 'vitest';
import { sentimentModel } from '../testing/fixtures.js';
import { connectionFor, connectionKey, credentialsSource, KafkaConfigError, type SecretReader } from './connection.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const kafka = { bootstrapServers: ['kafka-0:9093', 'kafka-1:9093'], inputTopic: 'reviews', outputTopic: 'reviews-sentiment' };

/** Secrets as the API server returns them, with the reads they received. */
function secrets(data: Record<string, Record<string, string>>): SecretReader & { reads: string[] } {
  const reads: string[] = [];
  return Object.assign(async (namespace: string, name: string) => {
    reads.push(`${namespace}/${name}`);
    return data[name];
  }, { reads });
}

describe('connectionFor', () => {
  it('connects in plaintext with the brokers alone, reading no Secret', async () => {
    const read = secrets({});
    expect(await connectionFor(sentimentModel({ stream: { kafka } }), read)).toEqual({ bootstrapBrokers: kafka.bootstrapServers });
    expect(read.reads).toEqual([]);
  });

  it('reads TLS and SASL credentials from the Secrets the pods mount, in the model\'s namespace', async () => {
    const model = sentimentModel({
      stream: {
        kafka: {
          ...kafka,
          tls: { caSecret: { name: 'kafka-ca', key: 'bundle.pem' }, clientCertificateSecret: { name: 'kafka-client' } },
          sasl: { mechanism: 'SCRAM-SHA-512', secretName: 'kafka-user', usernameKey: 'user' },
        },
      },
    });
    const read = secrets({
      'kafka-ca': { 'bundle.pem': b64('CA PEM') },
      'kafka-client': { 'tls.crt': b64('CERT PEM'), 'tls.key': b64('KEY PEM') },
      'kafka-user': { user: b64('sentiment'), password: b64('s3cret') },
    });
    const conn = await connectionFor(model, read);
    expect(conn).toEqual({
      bootstrapBrokers: kafka.bootstrapServers,
      tls: { ca: Buffer.from('CA PEM'), cert: Buffer.from('CERT PEM'), key: Buffer.from('KEY PEM') },
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'sentiment', password: 's3cret' },
    });
    expect(new Set(read.reads)).toEqual(new Set(['ml/kafka-ca', 'ml/kafka-client', 'ml/kafka-user']));
  });

  it('uses the system roots for TLS without a CA Secret', async () => {
    expect(await connectionFor(sentimentModel({ stream: { kafka: { ...kafka, tls: {} } } }), secrets({}))).toEqual({ bootstrapBrokers: kafka.bootstrapServers, tls: {} });
  });

  it('names the missing Secret or key, never a value', async () => {
    const sasl = sentimentModel({ stream: { kafka: { ...kafka, sasl: { mechanism: 'PLAIN', secretName: 'kafka-user' } } } });
    await expect(connectionFor(sasl, secrets({}))).rejects.toThrow(new KafkaConfigError('stream.kafka.sasl.usernameKey: Secret ml/kafka-user not found'));
    const partial = secrets({ 'kafka-user': { username: b64('sentiment'), pass: b64('s3cret') } });
    const err: Error = await connectionFor(sasl, partial).then(() => new Error('connected'), (e: unknown) => e as Error);
    expect(err).toEqual(new KafkaConfigError('stream.kafka.sasl.passwordKey: Secret ml/kafka-user has no key password'));
    expect(err.message).not.toContain('s3cret');
  });
});

describe('connectionKey', () => {
  it('changes with the brokers or the credential references, not with anything else', () => {
    const base = sentimentModel({ stream: { kafka } });
    expect(connectionKey(sentimentModel({ stream: { kafka: { ...kafka, inputTopic: 'other' } } }))).toBe(connectionKey(base));
    expect(connectionKey(sentimentModel({ stream: { kafka: { ...kafka, bootstrapServers: ['kafka-2:9093'] } } }))).not.toBe(connectionKey(base));
    expect(connectionKey(sentimentModel({ stream: { kafka: { ...kafka, sasl: { mechanism: 'PLAIN', secretName: 'u' } } } }))).not.toBe(connectionKey(base));
  });
});

describe('credentialsSource', () => {
  it('names the mechanism, the Secret and its keys for refused credentials, and nothing without SASL', () => {
    const sasl = sentimentModel({ stream: { kafka: { ...kafka, sasl: { mechanism: 'SCRAM-SHA-256', secretName: 'kafka-user', usernameKey: 'user', passwordKey: 'pass' } } } });
    expect(credentialsSource(sasl)).toBe('SCRAM-SHA-256 credentials from Secret ml/kafka-user keys user, pass');
    expect(credentialsSource(sentimentModel({ stream: { kafka } }))).toBeUndefined();
  });
});
