import { describe, expect, it } from 'vitest';
import { CANARY_SERIES } from '#contract/canary.js';
import { RouterMetrics } from './metrics.js';

describe('router metrics', () => {
  it('forgets the series of a canary step that is over, and only those', async () => {
    const metrics = new RouterMetrics();
    const step = (n: number, model = 'm') => ({ namespace: 'ns', model, revision: 'r1', step: String(n) });
    for (const labels of [step(0), step(1), step(0, 'other')]) {
      metrics.canary.compared.inc(labels, 3);
      metrics.canary.scoreSum.inc({ ...labels, side: 'stable', label: 'positive' }, 1.5);
      metrics.canary.candidateRequests.inc({ ...labels, outcome: 'ok' });
      metrics.canary.candidateDuration.observe(labels, 0.02);
    }
    await metrics.forgetCanaryStep(step(0));
    const text = await metrics.registry.metrics();
    const lines = text.split('\n').filter((line) => line.startsWith('sentiment_router_canary_'));
    expect(lines.some((line) => line.includes('model="m"') && line.includes('step="0"'))).toBe(false);
    expect(lines.filter((line) => line.startsWith(`${CANARY_SERIES.compared}{`))).toEqual([
      `${CANARY_SERIES.compared}{namespace="ns",model="m",revision="r1",step="1"} 3`,
      `${CANARY_SERIES.compared}{namespace="ns",model="other",revision="r1",step="0"} 3`,
    ]);
    expect(lines.filter((line) => line.startsWith(`${CANARY_SERIES.candidateDuration}_count`))).toHaveLength(2);
  });
});
