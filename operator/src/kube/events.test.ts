import { describe, expect, it } from 'vitest';
import type { CoreV1Event } from '@kubernetes/client-node';
import { pino } from 'pino';
import { sentimentModel } from '../testing/fixtures.js';
import { ApiError, LeadershipLostError } from './errors.js';
import { EventRecorder } from './events.js';
import type { KubeWriter } from './writer.js';

function fakeWriter(opts: { patchFails?: number; createFails?: Error } = {}) {
  const calls: string[] = [];
  const writer = {
    createEvent: async (e: CoreV1Event) => {
      if (opts.createFails) throw opts.createFails;
      calls.push(`create ${e.type}/${e.reason} x${e.count}: ${e.message}`);
    },
    patchEvent: async (_ns: string, name: string, patch: Partial<CoreV1Event>) => {
      if (opts.patchFails) throw new ApiError(opts.patchFails, { code: opts.patchFails, message: 'gone' }, 'gone');
      calls.push(`patch ${name.split('.')[0]} count=${patch.count}`);
    },
  } as unknown as KubeWriter;
  return { writer, calls };
}

const log = pino({ level: 'silent' });

describe('EventRecorder', () => {
  it('creates an event, then counts repeats of the same one on it', async () => {
    const { writer, calls } = fakeWriter();
    const events = new EventRecorder(writer, 'op-1', log);
    const model = sentimentModel();
    await events.warning(model, 'ApplyFailed', 'quota exceeded');
    await events.warning(model, 'ApplyFailed', 'quota exceeded');
    await events.warning(model, 'ApplyFailed', 'quota exceeded');
    await events.normal(model, 'Ready', '1/1 replicas ready');
    expect(calls).toEqual([
      'create Warning/ApplyFailed x1: quota exceeded', 'patch demo count=2', 'patch demo count=3', 'create Normal/Ready x1: 1/1 replicas ready',
    ]);
  });

  it('starts a new event when the old one has expired', async () => {
    const { writer, calls } = fakeWriter({ patchFails: 404 });
    const events = new EventRecorder(writer, 'op-1', log);
    await events.normal(sentimentModel(), 'Ready', 'ok');
    await events.normal(sentimentModel(), 'Ready', 'ok');
    expect(calls).toEqual(['create Normal/Ready x1: ok', 'create Normal/Ready x1: ok']);
  });

  it('never fails the reconcile over an event, except when leadership is gone', async () => {
    const model = sentimentModel();
    await expect(new EventRecorder(fakeWriter({ createFails: new Error('boom') }).writer, 'op-1', log).normal(model, 'Ready', 'ok')).resolves.toBeUndefined();
    await expect(new EventRecorder(fakeWriter({ createFails: new LeadershipLostError('no') }).writer, 'op-1', log).normal(model, 'Ready', 'ok'))
      .rejects.toBeInstanceOf(LeadershipLostError);
  });
});
