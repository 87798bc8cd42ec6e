import { describe, expect, it } from 'vitest';
import { OperatorMetrics } from './metrics.js';

async function conditionSeries(m: OperatorMetrics): Promise<string[]> {
  return (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('sentiment_operator_model_condition{'));
}

describe('OperatorMetrics: model conditions', () => {
  it('replaces a model\'s series, so a condition that has cleared stops firing alerts', async () => {
    const m = new OperatorMetrics();
    m.setModelConditions('shop', 'a', [{ type: 'Degraded', status: 'True', reason: 'ModelLoadFailed' }, { type: 'Ready', status: 'False', reason: 'ReplicasNotReady' }]);
    m.setModelConditions('shop', 'b', [{ type: 'Ready', status: 'True', reason: 'MinimumReplicasAvailable' }]);
    m.setModelConditions('shop', 'a', [{ type: 'Degraded', status: 'False', reason: 'AsExpected' }, { type: 'Ready', status: 'True', reason: 'MinimumReplicasAvailable' }]);
    expect(await conditionSeries(m)).toEqual([
      'sentiment_operator_model_condition{namespace="shop",name="b",type="Ready",status="True",reason="MinimumReplicasAvailable"} 1',
      'sentiment_operator_model_condition{namespace="shop",name="a",type="Degraded",status="False",reason="AsExpected"} 1',
      'sentiment_operator_model_condition{namespace="shop",name="a",type="Ready",status="True",reason="MinimumReplicasAvailable"} 1',
    ]);
  });

  it('drops the series of a deleted model, and all of them when leadership ends', async () => {
    const m = new OperatorMetrics();
    m.setModelConditions('shop', 'a', [{ type: 'Ready', status: 'True', reason: 'MinimumReplicasAvailable' }]);
    m.setModelConditions('shop', 'b', [{ type: 'Ready', status: 'True', reason: 'MinimumReplicasAvailable' }]);
    m.setModelConditions('shop', 'a');
    expect(await conditionSeries(m)).toEqual(['sentiment_operator_model_condition{namespace="shop",name="b",type="Ready",status="True",reason="MinimumReplicasAvailable"} 1']);
    m.clearModelConditions();
    m.setModelConditions('shop', 'b');
    expect(await conditionSeries(m)).toEqual([]);
  });
});

describe('OperatorMetrics: cache sizes', () => {
  it('reads the caches when scraped, not when set', async () => {
    const m = new OperatorMetrics();
    let models = 1;
    m.setCacheSizeSource(() => ({ models, pods: 4 }));
    models = 2;
    const series = (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('sentiment_operator_cached_objects{'));
    expect(series).toEqual(['sentiment_operator_cached_objects{cache="models"} 2', 'sentiment_operator_cached_objects{cache="pods"} 4']);
  });
});
