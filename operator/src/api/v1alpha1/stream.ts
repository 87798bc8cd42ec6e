import Type, { type Static } from 'typebox';
import { KafkaTopic, SaslMechanism, StreamConfig } from '#contract/runtime-config.js';
import { DataKey, ObjectName, validations } from './kube-schema.js';

/**
 * spec.stream.kafka: stream mode, the runtime consuming texts from Kafka and producing results.
 * Credentials are Secret references only: the pod gets the SASL credentials as env from
 * secretKeyRef and the TLS files on Secret volumes; the operator reads the same Secrets only to
 * connect its lag reader (metric kafkaLag).
 */

const SecretName = ObjectName('A Secret in the model\'s namespace.');
const SecretKey = (fallback: string, description: string) => DataKey({ default: fallback, description });
const stream = StreamConfig.properties;

export const KafkaTls = Type.Object({
  caSecret: Type.Optional(
    Type.Object({ name: SecretName, key: SecretKey('ca.crt', 'Key holding the PEM CA bundle.') }, { description: 'CA to trust instead of the system roots.' }),
  ),
  clientCertificateSecret: Type.Optional(
    Type.Object({ name: SecretName }, { description: 'A kubernetes.io/tls Secret (tls.crt, tls.key) for mutual TLS.' }),
  ),
});

export const KafkaSasl = Type.Object({
  mechanism: Type.With(SaslMechanism, { description: 'SASL mechanism the brokers accept.' }),
  secretName: SecretName,
  usernameKey: SecretKey('username', 'Key of the Secret holding the user name.'),
  passwordKey: SecretKey('password', 'Key of the Secret holding the password.'),
}, { description: 'SASL authentication; the credentials reach the pod as env from the Secret.' });

export const KafkaStream = Type.Object(
  {
    bootstrapServers: Type.Array(Type.String({ minLength: 1, maxLength: 512, pattern: '^[^\\s,]+:[0-9]{1,5}$' }), { minItems: 1, maxItems: 64, description: 'Kafka brokers as host:port.' }),
    inputTopic: KafkaTopic('Topic the texts arrive on.'),
    outputTopic: KafkaTopic('Topic the results leave on, keyed like their input.'),
    deadLetterTopic: stream.deadLetterTopic,
    consumerGroup: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Consumer group; default sentiment.<namespace>.<name>.' })),
    inputField: stream.inputField,
    startOffset: stream.startOffset,
    maxMessageBytes: stream.maxMessageBytes,
    maxInFlight: Type.With(stream.maxInFlight, { description: 'Records per serving process consumed but not yet produced and committed; fetching pauses beyond it. Must be below batching.maxQueue.' }),
    sessionTimeoutMs: stream.sessionTimeoutMs,
    tls: Type.Optional(Type.Object(KafkaTls.properties, { description: 'Connect with TLS; the Secrets are mounted into the pod.' })),
    sasl: Type.Optional(KafkaSasl),
  },
  {
    description: 'The Kafka cluster, topics and consumer settings.',
    ...validations(
      { rule: 'self.inputTopic != self.outputTopic', message: 'stream.kafka.inputTopic and stream.kafka.outputTopic must differ', fieldPath: '.outputTopic' },
      {
        rule: '!has(self.deadLetterTopic) || (self.deadLetterTopic != self.inputTopic && self.deadLetterTopic != self.outputTopic)',
        message: 'stream.kafka.deadLetterTopic must differ from the input and output topics',
        fieldPath: '.deadLetterTopic',
      },
    ),
  },
);

export const Stream = Type.Object(
  { kafka: KafkaStream },
  { description: 'Stream mode: besides HTTP, each serving process consumes texts from Kafka and produces their results, at least once, in order per key.' },
);

export type Stream = Static<typeof Stream>;

/** The consumer group of a model's pods, and so the one whose lag the autoscaler reads. */
export function consumerGroupOf(kafka: Stream['kafka'], namespace: string, name: string): string {
  return kafka.consumerGroup ?? `sentiment.${namespace}.${name}`;
}
