import type { BaseOptions } from '@platformatic/kafka';
import type { SentimentModel } from '../api/v1alpha1/index.js';

/** A Secret's data as the API server holds it (base64 values); undefined when the Secret does not exist. */
export type SecretReader = (namespace: string, name: string) => Promise<Readonly<Record<string, string>> | undefined>;

export type KafkaConnection = Pick<BaseOptions, 'bootstrapBrokers' | 'tls' | 'sasl'>;

/** A connection setting that cannot be built (a Secret or key missing); its message names the Secret and key, never a value. */
export class KafkaConfigError extends Error {}

/**
 * The connection the model's pods use (spec.stream.kafka), with the same Secrets: the pods get them
 * as env and volumes, the operator reads them through the API server. Only what the admin client
 * needs is read: the CA, the client certificate and the SASL credentials.
 */
export async function connectionFor(model: SentimentModel, secrets: SecretReader): Promise<KafkaConnection> {
  const kafka = model.spec.stream?.kafka;
  if (!kafka) throw new KafkaConfigError('spec.stream.kafka is not set');
  const namespace = model.metadata.namespace;
  // One read per Secret, however many of its keys are used.
  const read = new Map<string, ReturnType<SecretReader>>();
  const value = async (name: string, key: string, field: string): Promise<Buffer> => {
    if (!read.has(name)) read.set(name, secrets(namespace, name));
    const data = await read.get(name);
    if (!data) throw new KafkaConfigError(`${field}: Secret ${namespace}/${name} not found`);
    const encoded = data[key];
    if (encoded === undefined) throw new KafkaConfigError(`${field}: Secret ${namespace}/${name} has no key ${key}`);
    return Buffer.from(encoded, 'base64');
  };
  const { tls, sasl } = kafka;
  const ca = tls?.caSecret ? await value(tls.caSecret.name, tls.caSecret.key, 'stream.kafka.tls.caSecret') : undefined;
  const client = tls?.clientCertificateSecret;
  const cert = client ? await value(client.name, 'tls.crt', 'stream.kafka.tls.clientCertificateSecret') : undefined;
  const key = client ? await value(client.name, 'tls.key', 'stream.kafka.tls.clientCertificateSecret') : undefined;
  const credentials = sasl
    ? {
      mechanism: sasl.mechanism,
      username: (await value(sasl.secretName, sasl.usernameKey, 'stream.kafka.sasl.usernameKey')).toString('utf8'),
      password: (await value(sasl.secretName, sasl.passwordKey, 'stream.kafka.sasl.passwordKey')).toString('utf8'),
    }
    : undefined;
  return {
    bootstrapBrokers: [...kafka.bootstrapServers],
    ...(tls ? { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } } : {}),
    ...(credentials ? { sasl: credentials } : {}),
  };
}

/**
 * What decides whether a cached client still fits the spec: the brokers and which Secrets and keys
 * hold the credentials (not their contents: a rotated Secret is read again when the connection fails).
 */
export function connectionKey(model: SentimentModel): string {
  const kafka = model.spec.stream?.kafka;
  return JSON.stringify([kafka?.bootstrapServers, kafka?.tls ?? null, kafka?.sasl ?? null]);
}

/**
 * Where the SASL credentials come from, for when the brokers refuse them: the broker only says
 * authentication failed, and whoever reads the event has to know which Secret to fix. Names and
 * keys only, never a value.
 */
export function credentialsSource(model: SentimentModel): string | undefined {
  const sasl = model.spec.stream?.kafka.sasl;
  return sasl && `${sasl.mechanism} credentials from Secret ${model.metadata.namespace}/${sasl.secretName} keys ${sasl.usernameKey}, ${sasl.passwordKey}`;
}
