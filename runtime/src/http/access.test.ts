import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { buildFakeApp, type FakeModel } from '../../../test/support/fake-model.js';
import type { Prediction } from '../core/infer.js';
import type { ServingContext } from './context.js';
import { Admission } from './access.js';
import { BearerTokens } from './bearer-tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'sentiment-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tokenFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const v2Infer = { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['good'] }] };

describe('access control (app.inject over a fake model)', () => {
  let app: FastifyInstance;
  let model: FakeModel;
  let context: ServingContext;
  const start = (...args: Parameters<typeof buildFakeApp>): void => {
    ({ app, model, context } = buildFakeApp(...args));
  };
  afterEach(async () => {
    vi.restoreAllMocks();
    await app?.close();
  });

  describe('bearer tokens (auth.tokenFile)', () => {
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    it('refuses inference and model routes without the token: 401, WWW-Authenticate, the runtime error body', async () => {
      start({ model: { name: 'sst2' }, auth: { tokenFile: tokenFile('one', 's3cret-token\n') } });
      const routes = [
        { method: 'POST', url: '/v1/sentiment', payload: { text: 'good' } },
        { method: 'POST', url: '/predict', payload: { inputs: 'good' } },
        { method: 'POST', url: '/v2/models/sst2/infer', payload: v2Infer },
        { method: 'GET', url: '/v2/models/sst2' },
        { method: 'GET', url: '/v1/model' },
        { method: 'GET', url: '/' },
        { method: 'GET', url: '/openapi.json' },
      ] as const;
      for (const route of routes) {
        for (const headers of [{}, bearer('wrong'), { authorization: 's3cret-token' }, { authorization: 'Basic czNjcmV0LXRva2Vu' }]) {
          const response = await app.inject({ ...route, headers });
          expect([route.url, response.statusCode, response.headers['www-authenticate'], response.json().error_type]).toEqual([route.url, 401, 'Bearer realm="sentiment-runtime"', 'Unauthorized']);
        }
        expect([route.url, (await app.inject({ ...route, headers: bearer('s3cret-token') })).statusCode]).toEqual([route.url, 200]);
      }
      expect(model.calls).toHaveLength(3);
      expect((await app.inject('/metrics')).body).toContain('sentiment_runtime_rejected_requests_total{kind="Unauthorized"} 28');
    });

    it('leaves probes and /metrics open, and closes /metrics too with auth.metrics', async () => {
      const file = tokenFile('probes', 't0ken');
      start({ auth: { tokenFile: file } });
      for (const url of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready', '/metrics']) expect([url, (await app.inject(url)).statusCode]).toEqual([url, 200]);
      await app.close();
      start({ auth: { tokenFile: file, metrics: true } });
      expect((await app.inject('/metrics')).statusCode).toBe(401);
      expect((await app.inject({ url: '/metrics', headers: bearer('t0ken') })).statusCode).toBe(200);
      expect((await app.inject('/healthz')).statusCode).toBe(200);
    });

    it('answers an unknown route 401 before 404, so routes cannot be probed without the token', async () => {
      start({ auth: { tokenFile: tokenFile('unknown', 't0ken') } });
      expect((await app.inject('/v1/nothing')).statusCode).toBe(401);
      expect((await app.inject({ url: '/v1/nothing', headers: bearer('t0ken') })).statusCode).toBe(404);
    });

    it('accepts every token in the file and follows the file as it rotates', async () => {
      const file = tokenFile('rotating', 'old-token\nnew-token\n');
      start({ auth: { tokenFile: file } });
      const status = async (token: string) => (await app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 'good' }, headers: bearer(token) })).statusCode;
      expect([await status('old-token'), await status('new-token')]).toEqual([200, 200]);
      writeFileSync(file, 'new-token\n');
      await context.tokens!.refresh();
      expect([await status('old-token'), await status('new-token')]).toEqual([401, 200]);
      // An emptied file (a half-made Secret) is refused and the tokens in use stay.
      writeFileSync(file, '\n');
      await expect(context.tokens!.refresh()).rejects.toThrow('holds no token');
      expect(await status('new-token')).toBe(200);
    });

    it('refuses to start on a missing or empty token file, naming it', () => {
      expect(() => BearerTokens.load(join(dir, 'absent'))).toThrow(`config: cannot read auth.tokenFile ${join(dir, 'absent')}: ENOENT`);
      expect(() => BearerTokens.load(tokenFile('empty', ' \n'))).toThrow('holds no token');
    });

    it('re-reads the file on its own timer, through the kubelet\'s atomic swap of a Secret volume', async () => {
      // The kubelet's layout (atomic_writer.go): token -> ..data/token, ..data -> a timestamped
      // directory; an update writes a new directory and renames a new ..data link over the old one.
      const volume = mkdtempSync(join(dir, 'volume-'));
      const writeVersion = (name: string, token: string): void => {
        mkdirSync(join(volume, name));
        writeFileSync(join(volume, name, 'token'), token);
        symlinkSync(name, join(volume, '..data_tmp'));
        renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
      };
      writeVersion('..2026_12_02_10_00_00.1', 'first\n');
      symlinkSync('..data/token', join(volume, 'token'));
      const tokens = BearerTokens.load(join(volume, 'token'));
      const errors: Error[] = [];
      const stop = tokens.watch((error) => errors.push(error), 20);
      expect(tokens.accepts('Bearer first')).toBe(true);
      writeVersion('..2026_12_02_10_01_00.2', 'second\n');
      rmSync(join(volume, '..2026_12_02_10_00_00.1'), { recursive: true });
      await expect.poll(() => tokens.accepts('Bearer second'), { timeout: 2000 }).toBe(true);
      stop();
      expect(tokens.accepts('Bearer first')).toBe(false);
      expect(errors).toEqual([]);
    });
  });

  describe('admission (before the body is read)', () => {
    const hold = (): (() => void) => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      model.answer = async (texts): Promise<Prediction[]> => {
        await released;
        return texts.map(() => ({ logits: [0, 1], probabilities: [0.3, 0.7], truncated: false, unknownRatio: 0 }));
      };
      return release;
    };

    it('refuses with 429 and Retry-After once as many requests are in progress as the queue holds texts, without parsing the body', async () => {
      start({ batching: { maxQueue: 2 } });
      const release = hold();
      const held = [
        app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 'one' } }),
        app.inject({ method: 'POST', url: '/predict', payload: { inputs: 'two' } }),
      ];
      await expect.poll(() => model.calls.length).toBe(2);
      // Malformed JSON is refused as overload, not as invalid: the body was never parsed.
      const refused = await app.inject({ method: 'POST', url: '/v1/sentiment', payload: '{"text": ', headers: { 'content-type': 'application/json' } });
      expect([refused.statusCode, refused.headers['retry-after'], refused.json().error_type]).toEqual([429, '1', 'Overloaded']);
      expect((await app.inject({ method: 'POST', url: '/v2/models/sentiment/infer', payload: v2Infer })).statusCode).toBe(429);
      // Probes and metrics are never shed.
      expect((await app.inject('/readyz')).statusCode).toBe(200);
      expect((await app.inject('/metrics')).body).toContain('sentiment_runtime_rejected_requests_total{kind="Overloaded"} 2');
      release();
      expect((await Promise.all(held)).map((response) => response.statusCode)).toEqual([200, 200]);
      expect(context.admission.inProgress).toBe(0);
      expect((await app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 'three' } })).statusCode).toBe(200);
      expect(model.calls).toHaveLength(3);
    });

    it('refuses while the oldest queued text has waited more than half the deadline', async () => {
      start({ server: { requestTimeoutMs: 1000 } });
      model.queuedSince = performance.now() - 600;
      const refused = await app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 'good' } });
      expect([refused.statusCode, refused.json().error]).toEqual([429, expect.stringMatching(/^overloaded: the oldest queued text has waited \d+ ms$/)]);
      model.queuedSince = performance.now() - 300;
      expect((await app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 'good' } })).statusCode).toBe(200);
    });

    it('refuses while the oldest request in progress has waited more than half the deadline', async () => {
      start({ server: { requestTimeoutMs: 400 } });
      const release = hold();
      const held = app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 'slow' } });
      await expect.poll(() => model.calls.length).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 250));
      const refused = await app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 'good' } });
      expect([refused.statusCode, refused.json().error]).toEqual([429, expect.stringMatching(/^overloaded: the oldest request in progress has waited \d+ ms$/)]);
      release();
      expect((await held).statusCode).toBe(200);
      expect((await app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 'good' } })).statusCode).toBe(200);
    });

    it('refuses while the requests being worked on would take more than half the deadline at the rate requests recently finished', () => {
      // 100 requests finished within the 5 s window (20/s): 11 more would take ~550 ms, past half of 1 s.
      const admission = new Admission(1000, 500);
      let now = 0;
      vi.spyOn(performance, 'now').mockImplementation(() => now);
      for (let i = 0; i < 100; i++) {
        const ticket = admission.enter(undefined, now);
        ticket.working(now);
        ticket.leave();
      }
      now = 100;
      const tickets = Array.from({ length: 11 }, () => admission.enter(undefined, now));
      tickets.forEach((ticket) => ticket.working(now));
      expect(() => admission.enter(undefined, now)).toThrow(/^overloaded: 11 requests ahead would take ~550 ms$/);
      // Fewer ahead, and the door opens again.
      tickets.slice(0, 2).forEach((ticket) => ticket.leave());
      expect(() => admission.enter(undefined, now)).not.toThrow();
    });

    it('admits a burst after idle: no recent rate, no estimate', () => {
      const admission = new Admission(1000, 500);
      for (let i = 0; i < 500; i++) admission.enter(undefined, 0).working(0);
      expect(admission.inProgress).toBe(500);
    });

    it('releases the slot of a request that failed', async () => {
      start({ batching: { maxQueue: 1 } });
      expect((await app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 5 } })).statusCode).toBe(400);
      expect(context.admission.inProgress).toBe(0);
      expect((await app.inject({ method: 'POST', url: '/v1/sentiment', payload: { text: 'good' } })).statusCode).toBe(200);
    });
  });

  it('serves the playground page only with server.playground', async () => {
    start({ server: { playground: false } });
    expect((await app.inject('/')).statusCode).toBe(404);
    expect((await app.inject('/v1/model')).statusCode).toBe(200);
    await app.close();
    start();
    expect((await app.inject('/')).statusCode).toBe(200);
  });
});
