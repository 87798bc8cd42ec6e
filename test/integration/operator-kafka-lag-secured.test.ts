// The lag reader over SASL_SSL with its credentials from real Secrets: the operator reads the CA and
// the SCRAM-SHA-512 user from the Secrets spec.stream.kafka names, through the API server, and reads
// the group's lag from the broker's secured listener. No pods run: lag alone scales from zero.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Secret } from '@kubernetes/client-node';
import { ProduceAcks, Producer } from '@platformatic/kafka';
import { startControlPlane, type ControlPlane } from '../support/controlplane.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { applyObject, createNamespace, listEvents } from '../support/kube.js';
import { applyModel, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';

const ns = 'kafka-lag-secured';
const name = 'reviews';
const PARTITIONS = 3;
const RECORDS = 250;
const user = { username: 'lag-reader', password: `scram-${randomBytes(12).toString('hex')}` };
const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
const topics = { input: 'secured-in', output: 'secured-out', group: 'secured-group' };
const operatorConfig = { autoscaler: { intervalMs: 500, scrapeTimeoutMs: 400, persistIntervalSeconds: 1 } };

const secret = (secretName: string, data: Record<string, string>): V1Secret => ({
  apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, namespace: ns },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});

describe('operator: kafkaLag over SASL_SSL (SCRAM-SHA-512, CA), credentials from Secrets', () => {
  let broker: KafkaBroker;
  let cp: ControlPlane;
  let op: RunningOperator | undefined;

  beforeAll(async () => {
    const [kafka, plane] = await Promise.all([startKafka({ secured: { scramSha512Users: [user] } }), startControlPlane()]);
    broker = kafka;
    cp = plane;
    await broker.createTopics([{ name: topics.input, partitions: PARTITIONS }, { name: topics.output, partitions: PARTITIONS }]);
    await createNamespace(cp.kubeConfig, ns, {}, false);
    await applyObject(cp.kubeConfig, secret('kafka-ca', { 'ca.crt': readFileSync(broker.secured!.caFile, 'utf8') }));
    await applyObject(cp.kubeConfig, secret('kafka-user', user));
    op = await startOperator(cp.kubeConfig, operatorConfig);
    await applyModel(cp.kubeConfig, ns, name, {
      replicas: 0,
      stream: {
        kafka: {
          bootstrapServers: [broker.secured!.bootstrap], inputTopic: topics.input, outputTopic: topics.output, consumerGroup: topics.group,
          startOffset: 'earliest',
          tls: { caSecret: { name: 'kafka-ca', key: 'ca.crt' } },
          sasl: { mechanism: 'SCRAM-SHA-512', secretName: 'kafka-user', usernameKey: 'username', passwordKey: 'password' },
        },
      },
      autoscaling: { enabled: true, metric: 'kafkaLag', minReplicas: 0, maxReplicas: 4, stableWindowSeconds: 6, panicWindowSeconds: 2, scaleDownDelaySeconds: 60 },
    });
  }, 180_000);

  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
    await broker?.stop();
  });

  it('reads the lag over the secured listener and scales from zero to one', async () => {
    const idle = await waitForModel(cp.kubeConfig, ns, name, (m) => m.status?.autoscaling?.kafkaLag?.partitions === PARTITIONS, 60_000, 'the lag read over SASL_SSL');
    expect(idle.spec.replicas).toBe(0);
    expect(idle.status?.autoscaling).toMatchObject({ drivenBy: 'idle', kafkaLag: { lag: 0, partitions: PARTITIONS } });

    // The producer needs no credentials: the records only have to be there for the lag.
    const producer = new Producer({ clientId: 'secured-lag-producer', bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL });
    try {
      await producer.send({ messages: Array.from({ length: RECORDS }, (_, i) => ({ topic: topics.input, key: Buffer.from(`k${i % 7}`), value: Buffer.from(`text ${i}`) })) });
    } finally {
      await producer.close();
    }
    const lagged = await waitForModel(cp.kubeConfig, ns, name, (m) => m.status?.autoscaling?.kafkaLag?.lag === RECORDS && m.spec.replicas === 1, 60_000, `lag ${RECORDS} and one replica`);
    expect(lagged.status?.autoscaling?.kafkaLag).toMatchObject({ lag: RECORDS, partitions: PARTITIONS });
    expect(lagged.status?.autoscaling?.reason).not.toBe('KafkaLagUnavailable');
    const up = await listEvents(cp.kubeConfig, ns, name, 'ScaledUp');
    expect(up.map((e) => e.message)).toEqual([expect.stringMatching(new RegExp(`^0 -> 1 replicas \\(ScaleUp, driven by backlog\\): kafka lag ${RECORDS} over ${PARTITIONS} partitions`))]);
  }, 120_000);

  it('with a wrong password in the Secret: KafkaLagUnavailable and one Warning naming the Secret, never the password', async () => {
    // A fresh broker may answer the first reads with "coordinator not available" while it creates its offsets topic.
    const warned = (await listEvents(cp.kubeConfig, ns, name, 'KafkaLagUnavailable')).length;
    await applyObject(cp.kubeConfig, secret('kafka-user', { username: user.username, password: wrongPassword }));
    // An authenticated connection outlives a credential change, as in any Kafka client: the Secret
    // is read when the reader connects, here after an operator restart (a rollout, a failover).
    await op!.stop();
    op = await startOperator(cp.kubeConfig, operatorConfig);

    const held = await waitForModel(cp.kubeConfig, ns, name, (m) => m.status?.autoscaling?.reason === 'KafkaLagUnavailable', 60_000, 'the refused read in status');
    expect(held.spec.replicas).toBe(1);
    expect(held.status?.autoscaling?.kafkaLag).toMatchObject({ lag: RECORDS, partitions: PARTITIONS });
    // Several reads fail (after the backoff) before the one Warning is checked.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await op.metric('sentiment_operator_kafka_lag_read_errors_total', { namespace: ns, name })).toBeGreaterThanOrEqual(2);
    const warnings = await listEvents(cp.kubeConfig, ns, name, 'KafkaLagUnavailable');
    expect(warnings).toHaveLength(warned + 1);
    const refused = warnings.find((e) => e.message?.includes('SASL'));
    expect(refused?.type).toBe('Warning');
    const message = refused?.message ?? '';
    console.log(`wrong SCRAM password: ${message}`);
    expect(message).toMatch(/SASL authentication failed/i);
    expect(message).toContain(`SCRAM-SHA-512 credentials from Secret ${ns}/kafka-user keys username, password`);
    const everything = JSON.stringify([await listEvents(cp.kubeConfig, ns, name), held.status]);
    expect(everything).not.toContain(wrongPassword);
    expect(everything).not.toContain(user.password);
  }, 120_000);
});
