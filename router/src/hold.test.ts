import { describe, expect, it } from 'vitest';
import { Holds } from './hold.js';
import { RouterError } from './http/errors.js';

const never = new AbortController().signal;

describe('Holds', () => {
  it('lets every held request go on release', async () => {
    const holds = new Holds({ timeoutMs: 10_000, maxRequests: 10 });
    const waits = [holds.wait('ml/a', never), holds.wait('ml/a', never)];
    expect(holds.count('ml/a')).toBe(2);
    holds.release('ml/a');
    await expect(Promise.all(waits)).resolves.toEqual([undefined, undefined]);
    expect(holds.count('ml/a')).toBe(0);
  });

  it('refuses beyond the bound with 429 and Retry-After, per model', async () => {
    const holds = new Holds({ timeoutMs: 10_000, maxRequests: 1 });
    const first = holds.wait('ml/a', never);
    await expect(holds.wait('ml/a', never)).rejects.toMatchObject({ kind: 'Overloaded', retryAfterSeconds: 1 });
    const other = holds.wait('ml/b', never);
    holds.release('ml/a');
    holds.release('ml/b');
    await Promise.all([first, other]);
  });

  it('answers 503 with Retry-After when no replica came within the timeout', async () => {
    const holds = new Holds({ timeoutMs: 50, maxRequests: 10 });
    const error = await holds.wait('ml/a', never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RouterError);
    expect(error).toMatchObject({ kind: 'NoReadyReplica', retryAfterSeconds: 5 });
    expect(holds.count('ml/a')).toBe(0);
  });

  it('drops a request whose client left', async () => {
    const holds = new Holds({ timeoutMs: 10_000, maxRequests: 10 });
    const abort = new AbortController();
    const waiting = holds.wait('ml/a', abort.signal);
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ kind: 'ClientGone' });
    expect(holds.count('ml/a')).toBe(0);
  });

  it('fails the held requests of a deleted model', async () => {
    const holds = new Holds({ timeoutMs: 10_000, maxRequests: 10 });
    const waiting = holds.wait('ml/a', never);
    holds.fail('ml/a', new RouterError('NotFound', 'gone'));
    await expect(waiting).rejects.toMatchObject({ kind: 'NotFound' });
  });
});
