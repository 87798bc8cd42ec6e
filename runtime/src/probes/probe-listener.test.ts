import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ProbeListener } from './probe-listener.js';
import { answerProbe, type ProbePhase } from './probe-state.js';

describe('answerProbe', () => {
  it.each([
    ['/healthz', 'loading', 0, 200, 'ok'],
    ['/healthz', 'ready', 9_000, 200, 'ok'],
    ['/healthz', 'draining', 0, 200, 'ok'],
    ['/healthz', 'failed', 0, 503, 'failed'],
    ['/healthz', 'ready', 10_001, 503, 'stalled'],
    ['/readyz', 'loading', 0, 503, 'loading'],
    ['/readyz', 'ready', 9_000, 200, 'ready'],
    ['/readyz', 'draining', 0, 503, 'draining'],
    ['/readyz', 'failed', 0, 503, 'failed'],
    ['/readyz', 'ready', 10_001, 503, 'stalled'],
  ] as const)('%s in phase %s, heartbeat %d ms old: %d %s', (path, phase, age, status, body) => {
    expect(answerProbe(path, phase, age, undefined)).toMatchObject({ status, body: { status: body } });
  });

  it('says why liveness fails, and answers nothing else', () => {
    expect(answerProbe('/healthz', 'failed', 0, 'session worker exited')?.body).toEqual({ status: 'failed', error: 'session worker exited' });
    expect(answerProbe('/healthz', 'ready', 12_345, undefined)?.body.error).toBe('the event loop has not run for 12345 ms');
    expect(answerProbe('/v1/sentiment', 'ready', 0, undefined)).toBeUndefined();
  });
});

describe('ProbeListener (a real thread on a real port)', () => {
  let listener: ProbeListener | undefined;
  afterEach(async () => listener?.close());

  it('answers from its own thread: the phase as published, 404 elsewhere, and "stalled" while the main loop is blocked', { timeout: 20_000 }, async () => {
    let state: { phase: ProbePhase; failure?: Error } = { phase: 'loading' };
    const errors: Error[] = [];
    listener = await ProbeListener.start({ host: '127.0.0.1', port: 0, reusePort: false }, () => state, (error) => errors.push(error), 1_500);
    const base = `http://127.0.0.1:${listener.port}`;
    const get = async (path: string) => {
      const response = await fetch(base + path);
      return [response.status, ((await response.json()) as { status: string }).status];
    };
    expect([await get('/healthz'), await get('/readyz')]).toEqual([[200, 'ok'], [503, 'loading']]);
    state = { phase: 'ready' };
    listener.publish();
    expect(await get('/readyz')).toEqual([200, 'ready']);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);

    // A probe from another process while this thread spins: the answer comes at once, and says the loop is stuck.
    const probe = promisify(execFile)('sh', ['-c', `sleep 2.2; curl -s -m 2 -w '\\n%{http_code} %{time_total}' ${base}/healthz`]);
    const until = performance.now() + 3_500;
    while (performance.now() < until);
    const [body, timing] = (await probe).stdout.split('\n');
    const [code, seconds] = timing!.split(' ');
    expect([JSON.parse(body!).status, code]).toEqual(['stalled', '503']);
    expect(Number(seconds)).toBeLessThan(1);
    // The loop runs again, the heartbeat resumes.
    await expect.poll(() => get('/healthz'), { timeout: 2_000 }).toEqual([200, 'ok']);

    state = { phase: 'failed', failure: new Error('session worker exited') };
    listener.publish();
    await expect.poll(async () => (await fetch(`${base}/healthz`)).json(), { timeout: 2_000 }).toEqual({ status: 'failed', error: 'session worker exited' });
    expect(errors).toEqual([]);
  });

  it('refuses to start on a port in use, with the system\'s code', async () => {
    listener = await ProbeListener.start({ host: '127.0.0.1', port: 0, reusePort: false }, () => ({ phase: 'ready' }), () => {});
    await expect(ProbeListener.start({ host: '127.0.0.1', port: listener.port, reusePort: false }, () => ({ phase: 'ready' }), () => {})).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
