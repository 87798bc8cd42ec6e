import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { sentimentModel } from '../testing/fixtures.js';
import { KafkaLagReader } from './lag.js';

const failure = (read: Promise<unknown>): Promise<Error> => read.then(() => new Error('read succeeded'), (e: unknown) => e as Error);

/** A port nothing listens on: bound, then closed, so connecting is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('KafkaLagReader', () => {
  it('fails on unreachable brokers, then backs off without connecting or reading Secrets again until the backoff has passed', async () => {
    const port = await closedPort();
    const model = sentimentModel({
      stream: { kafka: { bootstrapServers: [`127.0.0.1:${port}`], inputTopic: 'reviews', outputTopic: 'out', sasl: { mechanism: 'PLAIN', secretName: 'kafka-user' } } },
    });
    let now = 0;
    const reads: string[] = [];
    const reader = new KafkaLagReader({
      secrets: async (_ns, name) => {
        reads.push(name);
        return { username: Buffer.from('u').toString('base64'), password: Buffer.from('p').toString('base64') };
      },
      clientId: 'test', timeoutMs: 2000, backoffMs: { min: 1000, max: 4000 }, clock: () => now,
    });
    try {
      const first = await failure(reader.read(model));
      expect(first).toBeInstanceOf(Error);
      expect(first.message).toBe(`Cannot connect to any broker: connect ECONNREFUSED 127.0.0.1:${port}`);
      expect(reads).toEqual(['kafka-user']);
      // Within the backoff: the same error, no new connection, no Secret read.
      now = 999;
      await expect(reader.read(model)).rejects.toBe(first);
      expect(reads).toHaveLength(1);
      // After it: connected anew, the Secrets read again (a rotation is picked up), and the backoff doubles.
      now = 1000;
      const second = await failure(reader.read(model));
      expect(second).not.toBe(first);
      expect(reads).toHaveLength(2);
      now = 2999;
      await expect(reader.read(model)).rejects.toBe(second);
      now = 3000;
      await expect(reader.read(model)).rejects.not.toBe(second);
    } finally {
      await reader.close();
    }
  });

  it('fails with the Secret named when a credential is missing', async () => {
    const model = sentimentModel({ stream: { kafka: { bootstrapServers: ['127.0.0.1:9'], inputTopic: 'reviews', outputTopic: 'out', sasl: { mechanism: 'PLAIN', secretName: 'gone' } } } });
    const reader = new KafkaLagReader({ secrets: async () => undefined, clientId: 'test', timeoutMs: 1000, backoffMs: { min: 1000, max: 1000 }, clock: () => 0 });
    await expect(reader.read(model)).rejects.toThrow('stream.kafka.sasl.usernameKey: Secret ml/gone not found');
    await reader.close();
  });
});
