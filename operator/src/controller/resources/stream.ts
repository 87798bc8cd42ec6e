import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { StreamConfig } from '#contract/runtime-config.js';
import { consumerGroupOf, type SentimentModel } from '../../api/v1alpha1/index.js';
import { SECRET_FILE_MODE } from './pod-defaults.js';

/** Where the Kafka TLS Secrets are mounted in the runtime container. */
const KAFKA_CA_DIR = '/etc/sentiment-kafka/ca';
const KAFKA_CLIENT_DIR = '/etc/sentiment-kafka/client';

/** The runtime config's stream section for spec.stream.kafka; credentials only as file paths (the env carries SASL). */
export function streamRuntimeConfig(model: SentimentModel): Partial<StreamConfig> | undefined {
  const kafka = model.spec.stream?.kafka;
  if (!kafka) return undefined;
  const { tls, sasl } = kafka;
  return {
    bootstrapServers: [...kafka.bootstrapServers],
    inputTopic: kafka.inputTopic,
    outputTopic: kafka.outputTopic,
    ...(kafka.deadLetterTopic ? { deadLetterTopic: kafka.deadLetterTopic } : {}),
    groupId: consumerGroupOf(kafka, model.metadata.namespace, model.metadata.name),
    ...(kafka.inputField ? { inputField: kafka.inputField } : {}),
    startOffset: kafka.startOffset,
    maxMessageBytes: kafka.maxMessageBytes,
    maxInFlight: kafka.maxInFlight,
    sessionTimeoutMs: kafka.sessionTimeoutMs,
    tls: tls !== undefined,
    ...(tls?.caSecret ? { tlsCaFile: `${KAFKA_CA_DIR}/${tls.caSecret.key}` } : {}),
    ...(tls?.clientCertificateSecret ? { tlsCertFile: `${KAFKA_CLIENT_DIR}/tls.crt`, tlsKeyFile: `${KAFKA_CLIENT_DIR}/tls.key` } : {}),
    ...(sasl ? { saslMechanism: sasl.mechanism } : {}),
  };
}

/** What spec.stream.kafka adds to the runtime container: SASL env from the Secret, TLS Secret volumes. */
export function streamPodParts(model: SentimentModel): { env: V1EnvVar[]; volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const kafka = model.spec.stream?.kafka;
  const env: V1EnvVar[] = [];
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  if (kafka?.sasl) {
    const { secretName, usernameKey, passwordKey } = kafka.sasl;
    env.push(
      { name: 'SENTIMENT_STREAM_SASL_USERNAME', valueFrom: { secretKeyRef: { name: secretName, key: usernameKey } } },
      { name: 'SENTIMENT_STREAM_SASL_PASSWORD', valueFrom: { secretKeyRef: { name: secretName, key: passwordKey } } },
    );
  }
  const ca = kafka?.tls?.caSecret;
  if (ca) {
    volumes.push({ name: 'kafka-ca', secret: { secretName: ca.name, items: [{ key: ca.key, path: ca.key }], defaultMode: SECRET_FILE_MODE } });
    mounts.push({ name: 'kafka-ca', mountPath: KAFKA_CA_DIR, readOnly: true });
  }
  const client = kafka?.tls?.clientCertificateSecret;
  if (client) {
    volumes.push({ name: 'kafka-client', secret: { secretName: client.name, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }], defaultMode: SECRET_FILE_MODE } });
    mounts.push({ name: 'kafka-client', mountPath: KAFKA_CLIENT_DIR, readOnly: true });
  }
  return { env, volumes, mounts };
}
