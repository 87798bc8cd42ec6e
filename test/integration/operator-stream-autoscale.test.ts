// The builtin autoscaler on stream lag, end to end: two runtime processes consume a real Kafka
// topic and stand in for the model's kwok pods (only pod -> address is injected, never the
// metrics). A backlog lands on the topic; the operator reads the lag, the partition count and the
// measured records/s from the pods it scrapes, scales the SentimentModel up, says why in status and
// events, and comes back down once the lag is gone and the scale-down delay has passed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { ProduceAcks, Producer } from '@platformatic/kafka';
import { startControlPlane, cpuNode, type ControlPlane } from '../support/controlplane.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { createNamespace, listEvents } from '../support/kube.js';
import { applyModel, isReady, startOperator, waitForModel, type RunningOperator } from '../support/operator.js';
import { models, spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

const ns = 'stream-autoscale';
const name = 'posts';
const PARTITIONS = 4;
/** Enough that each process's share outlasts the runtime's 5 s lag refresh at any speed this machine reaches. */
const BACKLOG = 20_000;
const DELAY_S = 6;
const topics = { input: 'lag-in', output: 'lag-out', group: 'lag-group' };

describe('operator: builtin autoscaling on stream lag (real Kafka broker)', () => {
  const children: ReturnType<typeof spawnRuntime>[] = [];
  const loans = new Map<string, string>();
  let urls: string[] = [];
  let broker: KafkaBroker;
  let producer: Producer | undefined;
  let cp: ControlPlane;
  let op: RunningOperator;

  /** Each pod keeps the process it was first lent. */
  const address = (pod: V1Pod): string | undefined => {
    const podName = pod.metadata?.name ?? '';
    if (!loans.has(podName)) {
      const url = urls.find((u) => ![...loans.values()].includes(u));
      if (url) loans.set(podName, url);
    }
    return loans.get(podName);
  };

  beforeAll(async () => {
    broker = await startKafka();
    await broker.createTopics([{ name: topics.input, partitions: PARTITIONS }, { name: topics.output, partitions: PARTITIONS }]);
    const spawn = () => {
      const child = spawnRuntime([
        'serve', '--server.host=127.0.0.1', '--server.port=0', '--server.drainDelayMs=0', `--model.path=${models.demo}`, '--cache.enabled=false',
        `--stream.bootstrapServers=${broker.bootstrap}`, `--stream.inputTopic=${topics.input}`, `--stream.outputTopic=${topics.output}`,
        `--stream.groupId=${topics.group}`, '--stream.sessionTimeoutMs=6000',
      ]);
      children.push(child);
      return waitForReadyUrl(child, 120_000);
    };
    const [plane, ready] = await Promise.all([
      startControlPlane({ scheduler: true, controllerManager: true, nodes: [cpuNode('cpu-1')] }),
      Promise.all([spawn(), spawn()]),
    ]);
    cp = plane;
    urls = ready;
    await createNamespace(cp.kubeConfig, ns);
    op = await startOperator(cp.kubeConfig, { autoscaler: { intervalMs: 500, scrapeTimeoutMs: 400, persistIntervalSeconds: 2 } }, { podAddress: address });
    await applyModel(cp.kubeConfig, ns, name, {
      replicas: 1,
      stream: { kafka: { bootstrapServers: [broker.bootstrap], inputTopic: topics.input, outputTopic: topics.output, consumerGroup: topics.group } },
      autoscaling: {
        enabled: true, minReplicas: 1, maxReplicas: 2, target: 100,
        stableWindowSeconds: 6, panicWindowSeconds: 2, scaleDownDelaySeconds: DELAY_S, stream: { drainSeconds: 2 },
      },
    });
    await waitForModel(cp.kubeConfig, ns, name, (m) => isReady(m) && m.status?.readyReplicas === 1, 60_000, 'one ready replica');
  }, 300_000);

  afterAll(async () => {
    await producer?.close().catch(() => undefined);
    await op?.stop();
    await cp?.stop();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await broker?.stop();
  });

  it('scales up on the backlog with the lag input in status, and back down once it is drained', async () => {
    // Idle, no lag: the lag input is in status and asks for nothing.
    const idle = await waitForModel(cp.kubeConfig, ns, name, (m) => m.status?.autoscaling?.stream?.partitions === PARTITIONS, 30_000, 'the partition count read');
    expect(idle.status?.autoscaling).toMatchObject({ drivenBy: 'metric', stream: { lag: 0, desiredReplicas: 0 } });

    producer = new Producer({ clientId: 'lag-test-producer', bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL });
    const messages = Array.from({ length: BACKLOG }, (_, i) => ({ topic: topics.input, key: Buffer.from(`k${i % 16}`), value: Buffer.from(`a fine film, take ${i}`) }));
    for (let i = 0; i < messages.length; i += 2000) await producer.send({ messages: messages.slice(i, i + 2000) });

    // The decision's status write follows its scale write; both say 2 once it has landed.
    const up = await waitForModel(cp.kubeConfig, ns, name, (m) => m.spec.replicas === 2 && m.status?.desiredReplicas === 2, 60_000, 'two replicas on the lag');
    expect(up.status?.autoscaling?.drivenBy).toBe('streamLag');
    const events = await listEvents(cp.kubeConfig, ns, name, 'ScaledUp');
    expect(events.at(-1)?.message).toMatch(/^1 -> 2 replicas \(\w+, driven by streamLag\).*stream lag \d+ at [\d.]+ records\/s per replica over 4 partitions asks for \d+$/);

    const down = await waitForModel(cp.kubeConfig, ns, name, (m) => m.spec.replicas === 1 && m.status?.desiredReplicas === 1, 180_000, 'back to one replica once drained');
    expect(down.status?.autoscaling?.stream).toMatchObject({ partitions: PARTITIONS, desiredReplicas: 0 });
    expect(down.status?.autoscaling?.stream?.recordsPerSecondPerReplica).toBeGreaterThan(0);
    expect(await op.metric('sentiment_operator_autoscaler_scrape_errors_total', { namespace: ns, name })).toBe(0);
  }, 300_000);
});
