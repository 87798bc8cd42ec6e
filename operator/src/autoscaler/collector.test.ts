import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector, isReadyPod, podAddress, readSeries, readStream } from './collector.js';

const EXPOSITION = `# HELP sentiment_runtime_inflight_requests Inference requests being handled now.
# TYPE sentiment_runtime_inflight_requests gauge
sentiment_runtime_inflight_requests 7
# HELP sentiment_runtime_inflight_requests_total a longer name that must not match
sentiment_runtime_inflight_requests_total 99
sentiment_runtime_queue_depth{shard="a}b"} 3 1700000000000
sentiment_runtime_queue_depth{shard="c"} 4.5
`;

const pod = (name: string, ready = true, ip: string | null = '10.0.0.1'): V1Pod => ({
  metadata: { name },
  status: { ...(ip ? { podIP: ip } : {}), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

describe('readSeries', () => {
  it('reads an unlabelled gauge and ignores comments and longer names', () => {
    expect(readSeries(EXPOSITION, 'sentiment_runtime_inflight_requests')).toBe(7);
  });

  it('sums label sets, with braces inside quoted label values and optional timestamps', () => {
    expect(readSeries(EXPOSITION, 'sentiment_runtime_queue_depth')).toBe(7.5);
  });

  it('is undefined for an absent series or a value that is not a finite number', () => {
    expect(readSeries(EXPOSITION, 'sentiment_runtime_ready')).toBeUndefined();
    expect(readSeries('sentiment_runtime_queue_depth NaN\n', 'sentiment_runtime_queue_depth')).toBeUndefined();
    expect(readSeries('sentiment_runtime_queue_depth +Inf\n', 'sentiment_runtime_queue_depth')).toBeUndefined();
    expect(readSeries('<html>oops</html>', 'sentiment_runtime_queue_depth')).toBeUndefined();
  });
});

// As runtime/src/metrics.ts writes them for a process holding partitions 0 and 3 of the input topic.
const STREAMING = `${EXPOSITION}sentiment_runtime_stream_produced_records_total 1500
sentiment_runtime_stream_lag{topic="reviews",partition="0"} 400
sentiment_runtime_stream_lag{topic="reviews",partition="3"} 100
`;

describe('readStream', () => {
  it('reads the produced counter and counts the partitions the process holds', () => {
    expect(readStream(STREAMING)).toEqual({ assigned: 2, produced: 1500 });
  });

  it('reads a consumer holding no partition as assigned none', () => {
    expect(readStream('sentiment_runtime_stream_produced_records_total 0\n')).toEqual({ assigned: 0, produced: 0 });
  });

  it('is undefined without a stream consumer or with a broken sample', () => {
    expect(readStream(EXPOSITION)).toBeUndefined();
    expect(readStream(STREAMING.replace('} 400', '} NaN'))).toBeUndefined();
  });
});

describe('pods', () => {
  it('addresses the runtime port on the pod IP, bracketing IPv6', () => {
    expect(podAddress(pod('a'))).toBe('http://10.0.0.1:8080');
    expect(podAddress(pod('a', true, 'fd00::5'))).toBe('http://[fd00::5]:8080');
    expect(podAddress(pod('a', true, null))).toBeUndefined();
  });

  it('counts only Ready pods that are not terminating', () => {
    expect(isReadyPod(pod('a'))).toBe(true);
    expect(isReadyPod(pod('a', false))).toBe(false);
    expect(isReadyPod({ ...pod('a'), metadata: { name: 'a', deletionTimestamp: new Date() } })).toBe(false);
    expect(isReadyPod({ metadata: { name: 'a' } })).toBe(false);
  });
});

describe('Collector', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok/metrics') res.end(EXPOSITION);
      else if (req.url === '/streaming/metrics') res.end(STREAMING);
      else if (req.url === '/error/metrics') res.writeHead(500).end('sentiment_runtime_inflight_requests 1\n');
      else if (req.url === '/hang/metrics') res.writeHead(200).write('sentiment_runtime_inflight_requests 1\n'); // never ends
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('samples every pod in parallel; errors, timeouts and unaddressable pods are undefined', async () => {
    const collector = new Collector({ address: (p) => (p.metadata?.name === 'none' ? undefined : `${base}/${p.metadata?.name}`), timeoutMs: 200 });
    const started = performance.now();
    const samples = await collector.sample([pod('ok'), pod('error'), pod('hang'), pod('none'), pod('gone')], 'inflight');
    expect(Object.fromEntries(samples)).toEqual({ ok: { value: 7 }, error: {}, hang: {}, none: {}, gone: {} });
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await collector.sample([pod('ok')], 'queueDepth')).get('ok')).toEqual({ value: 7.5 });
  });

  it('reads the stream series for metric kafkaLag, whose lag itself comes from the brokers', async () => {
    const collector = new Collector({ address: (p) => `${base}/${p.metadata?.name}`, timeoutMs: 200 });
    const samples = await collector.sample([pod('streaming'), pod('ok'), pod('error')], 'kafkaLag');
    expect(Object.fromEntries(samples)).toEqual({ streaming: { stream: { assigned: 2, produced: 1500 } }, ok: {}, error: {} });
  });

  it('treats an unreachable address as a missing sample', async () => {
    const collector = new Collector({ address: () => 'http://127.0.0.1:1', timeoutMs: 200 });
    expect((await collector.sample([pod('a')], 'inflight')).get('a')).toEqual({});
  });
});
