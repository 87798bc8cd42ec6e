import { describe, expect, it } from 'vitest';
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { sentimentModel } from '../../testing/fixtures.js';
import { makePDB } from './pdb.js';

/** The disruption controller's arithmetic for a maxUnavailable budget over a scalable controller. */
function disruptionsAllowed(pdb: V1PodDisruptionBudget, expectedPods: number, readyPods: number): number {
  const maxUnavailable = pdb.spec?.maxUnavailable as number;
  const desiredHealthy = Math.max(0, expectedPods - maxUnavailable);
  return Math.max(0, readyPods - desiredHealthy);
}

describe('makePDB', () => {
  it('selects the model pods and is owned by the model', () => {
    const pdb = makePDB(sentimentModel());
    expect(pdb).toMatchObject({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'demo', namespace: 'ml', ownerReferences: [expect.objectContaining({ controller: true })] },
      spec: { selector: { matchLabels: { 'serving.sentiment.dev/model': 'demo' } }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
    });
  });

  it('does not change with replicas, so scaling never rewrites it', () => {
    expect(makePDB(sentimentModel({ replicas: 1 }))).toEqual(makePDB(sentimentModel({ replicas: 7 })));
  });

  it.each([
    [1, 1, 1, 'a single replica never blocks a node drain'],
    [2, 2, 1, 'one of two may go'],
    [2, 1, 0, 'the last ready pod of two stays'],
    [3, 3, 1, 'one at a time'],
    [3, 1, 0, 'the last ready pod of three stays'],
    [5, 2, 0, 'capacity already down: nothing more'],
  ])('with %d replicas and %d ready, allows %d eviction(s): %s', (replicas, ready, allowed) => {
    const pdb = makePDB(sentimentModel({ replicas }));
    expect(disruptionsAllowed(pdb, replicas, ready)).toBe(allowed);
  });
});
