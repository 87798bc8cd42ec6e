import { describe, expect, it } from 'vitest';
import type { RolloutChoice, SentimentModel } from '../api/v1alpha1/index.js';
import { cache, gpuNode, gpuPods, sentimentModel } from '../testing/fixtures.js';
import { makeDeployment, podTemplateHash } from './resources/deployment.js';
import { desiredDraft } from './resources/desired.js';
import { decideAuto, standingChoice } from './strategy.js';

const gpuModel = (replicas: number, over: Parameters<typeof sentimentModel>[0] = {}) =>
  sentimentModel({ replicas, runtime: { executionProvider: 'cuda' }, quantization: 'fp16', resources: { gpu: { count: 1 } }, ...over }, 'sst2');
const desiredOf = (model: SentimentModel) => desiredDraft(model, { imageVolumes: false, clusterDomain: 'cluster.local' }).podTemplate;
const liveWith = (model: SentimentModel, strategy: RolloutChoice['strategy']) => makeDeployment(model, desiredOf(model), strategy);


describe('decideAuto', () => {
  it('surges when a node the pods may use has a spare GPU', () => {
    const model = gpuModel(2);
    const choice = decideAuto(model, desiredOf(model), cache([gpuNode('a', 3)]), cache(gpuPods('a', 2)));
    expect(choice).toEqual({
      strategy: 'Surge', reason: 'SpareGPU', templateHash: podTemplateHash(desiredOf(model)),
      message: 'node a has 1 nvidia.com/gpu free for a surge pod needing 1 (1 nvidia.com/gpu free on 1 node(s) the pods may use)',
    });
  });

  it('replaces without surge when no GPU is spare and more than one replica serves', () => {
    const model = gpuModel(2);
    const choice = decideAuto(model, desiredOf(model), cache([gpuNode('a', 2)]), cache(gpuPods('a', 2)));
    expect(choice).toMatchObject({ strategy: 'Replace', reason: 'NoSpareGPU' });
    expect(choice.message).toBe('no node the pods may use has 1 nvidia.com/gpu free (0 nvidia.com/gpu free on 1 node(s) the pods may use): each old pod stops before its successor starts (maxSurge 0)');
  });

  it('says which GPU nodes of the pool it did not count, and why', () => {
    const model = gpuModel(2);
    const nodes = [gpuNode('a', 2), { ...gpuNode('b', 4), spec: { ...gpuNode('b', 4).spec, unschedulable: true } }];
    const choice = decideAuto(model, desiredOf(model), cache(nodes), cache(gpuPods('a', 2)));
    expect(choice.message).toBe('no node the pods may use has 1 nvidia.com/gpu free (0 nvidia.com/gpu free on 1 node(s) the pods may use; not counted: b (cordoned)): each old pod stops before its successor starts (maxSurge 0)');
  });

  it('keeps surging with a single replica rather than stop serving, and says the new pod waits', () => {
    const model = gpuModel(1);
    const choice = decideAuto(model, desiredOf(model), cache([gpuNode('a', 1)]), cache(gpuPods('a', 1)));
    expect(choice).toMatchObject({ strategy: 'Surge', reason: 'LastReplica' });
    expect(choice.message).toContain('the new pod waits Pending until 1 nvidia.com/gpu frees up');
  });

  it('needs the spare GPUs on one node: a pod cannot span two', () => {
    const model = gpuModel(2, { resources: { gpu: { count: 2 } } });
    expect(decideAuto(model, desiredOf(model), cache([gpuNode('a', 3), gpuNode('b', 3)]), cache([...gpuPods('a', 2), ...gpuPods('b', 2)])))
      .toMatchObject({ strategy: 'Replace', reason: 'NoSpareGPU', message: expect.stringContaining('no node the pods may use has 2 nvidia.com/gpu free (2 nvidia.com/gpu free on 2 node(s)') });
  });

  it('counts only nodes of the GPU product the new template asks for', () => {
    const model = gpuModel(2, { resources: { gpu: { count: 1, product: 'NVIDIA-A100-SXM4-40GB' } } });
    expect(decideAuto(model, desiredOf(model), cache([gpuNode('h100', 8)]), cache([])).reason).toBe('NoSpareGPU');
    expect(decideAuto(model, desiredOf(model), cache([gpuNode('h100', 8), gpuNode('a100', 1, 'NVIDIA-A100-SXM4-40GB')]), cache([])).reason).toBe('SpareGPU');
  });

  it('surges CPU-only models without looking at nodes', () => {
    const model = sentimentModel({ replicas: 3 });
    const untouched = { list: () => expect.unreachable('listed the cluster for a CPU model') };
    expect(decideAuto(model, desiredOf(model), untouched, untouched)).toMatchObject({ strategy: 'Surge', reason: 'NoGPU' });
  });
});

describe('standingChoice', () => {
  const model = gpuModel(2);
  const desired = desiredOf(model);
  const hash = podTemplateHash(desired);
  const replace: RolloutChoice = { strategy: 'Replace', reason: 'NoSpareGPU', message: 'm', templateHash: hash };

  it('applies the user\'s strategy whatever was chosen before', () => {
    const user = gpuModel(2, { rollout: { strategy: 'Surge' } });
    expect(standingChoice(user, desiredOf(user), replace, undefined)).toEqual({ strategy: 'Surge', reason: 'UserSpecified', message: 'spec.rollout.strategy is Surge', templateHash: podTemplateHash(desiredOf(user)) });
  });

  it('keeps the choice made for this pod template until the template changes', () => {
    expect(standingChoice(model, desired, replace, undefined)).toBe(replace);
    const newImage = gpuModel(2, { model: { image: { reference: 'ghcr.io/example/sst2-model:2.0.0' } } });
    expect(standingChoice(newImage, desiredOf(newImage), replace, liveWith(model, 'Replace'))).toBeUndefined();
  });

  it('does not take a former user strategy for an Auto choice', () => {
    const user: RolloutChoice = { strategy: 'Surge', reason: 'UserSpecified', message: 'm', templateHash: hash };
    expect(standingChoice(model, desired, user, undefined)).toBeUndefined();
  });

  it('keeps what the Deployment already does with this template when the choice was never recorded', () => {
    expect(standingChoice(model, desired, undefined, liveWith(model, 'Replace'))).toMatchObject({ strategy: 'Replace', reason: 'KeptFromDeployment', templateHash: hash });
    expect(standingChoice(model, desired, undefined, liveWith(model, 'Surge'))).toMatchObject({ strategy: 'Surge', reason: 'KeptFromDeployment' });
  });
});
