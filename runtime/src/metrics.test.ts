import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RuntimeMetrics } from './metrics.js';

describe('RuntimeMetrics stream lag', () => {
  it('exports the lag per held partition and the topic\'s partition count, which the autoscaler caps at', async () => {
    const metrics = new RuntimeMetrics();
    metrics.startStream();
    metrics.lag('posts', new Map([[0, 400n], [3, 100n]]), 12);
    let text = await metrics.registry.metrics();
    expect(text).toContain('sentiment_runtime_stream_lag{topic="posts",partition="0"} 400');
    expect(text).toContain('sentiment_runtime_stream_lag{topic="posts",partition="3"} 100');
    expect(text).toContain('sentiment_runtime_stream_topic_partitions{topic="posts"} 12');
    expect(text).toContain('sentiment_runtime_stream_produced_records_total 0');

    // Partitions revoked and the brokers not asked this time: no lag of its own, the count it last read stays.
    metrics.lag('posts', new Map());
    text = await metrics.registry.metrics();
    expect(text).not.toMatch(/^sentiment_runtime_stream_lag\{/m);
    expect(text).toContain('sentiment_runtime_stream_topic_partitions{topic="posts"} 12');
  });

  it('keeps the partition count and each process\'s partitions when serving processes are aggregated', async () => {
    const workers = [new RuntimeMetrics(), new RuntimeMetrics()];
    workers[0]!.lag('posts', new Map([[0, 10n], [1, 20n]]), 4);
    workers[1]!.lag('posts', new Map([[2, 30n], [3, 40n]]), 4);
    const text = await AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON()))).metrics();
    expect(text).toContain('sentiment_runtime_stream_topic_partitions{topic="posts"} 4');
    expect(text.match(/^sentiment_runtime_stream_lag\{/gm)).toHaveLength(4);
  });
});
