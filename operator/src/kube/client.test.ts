import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KubeClient, resourcePath, type WatchEvent } from './client.js';
import { ApiError, classify, Failure } from './errors.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server | undefined;
let client: KubeClient | undefined;

afterEach(async () => {
  client?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
  client = undefined;
  vi.useRealTimers();
});

/** A real HTTP server answering with `handle`; returns the requests it saw. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void, access: { token?: string; tokenFile?: string } = {}) {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      handle(req, res, s);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  client = new KubeClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, ...access });
  return { client, seen };
}

const json = (res: ServerResponse, code: number, body: unknown) => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

describe('KubeClient', () => {
  it('sends JSON with its content type, query and bearer token, and reuses one connection', async () => {
    const ports = new Set<number>();
    const { client, seen } = await serve((req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      json(res, 200, { kind: 'Deployment', metadata: { name: 'x' } });
    }, { token: 'secret' });
    const path = resourcePath('apps/v1', 'deployments', 'ml', 'x');
    await expect(client.request('PATCH', path, { query: { fieldManager: 'me', force: true, dryRun: undefined }, body: { spec: { replicas: 2 } }, contentType: 'application/apply-patch+yaml' }))
      .resolves.toEqual({ kind: 'Deployment', metadata: { name: 'x' } });
    await client.request('GET', resourcePath('v1', 'nodes'));
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['PATCH /apis/apps/v1/namespaces/ml/deployments/x?fieldManager=me&force=true', 'GET /api/v1/nodes']);
    expect(seen[0]).toMatchObject({ body: '{"spec":{"replicas":2}}', headers: { 'content-type': 'application/apply-patch+yaml', authorization: 'Bearer secret', accept: 'application/json' } });
    expect(seen[1]?.headers['content-type']).toBeUndefined();
    expect(ports.size).toBe(1);
  });

  it('sends a request again when the kept-alive connection it went out on turns out closed', async () => {
    const served = new WeakSet<object>();
    let resets = 0;
    const { client, seen } = await serve((req, res) => {
      if (served.has(req.socket) && resets++ === 0) return void req.socket.destroy();
      served.add(req.socket);
      json(res, 200, { ok: seen.length });
    });
    await client.request('GET', '/first');
    await expect(client.request('PUT', '/second', { body: {} })).resolves.toEqual({ ok: 3 });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /first', 'PUT /second', 'PUT /second']);
  });

  it('checks the answer to a write without reading it', async () => {
    const answers: [number, unknown][] = [[200, { data: 'x'.repeat(100_000) }], [409, { kind: 'Status', code: 409, message: 'already exists' }]];
    const { client } = await serve((_req, res) => json(res, ...answers.shift()!));
    await expect(client.send('POST', '/a', { body: {} })).resolves.toBeUndefined();
    await expect(client.send('POST', '/a', { body: {} })).rejects.toMatchObject({ code: 409, message: 'HTTP 409: already exists' });
  });

  it('turns a failed call into an ApiError with the status code and the apiserver\'s message', async () => {
    const answers: [number, unknown][] = [
      [409, { kind: 'Status', code: 409, reason: 'Conflict', message: 'the object has been modified' }],
      [404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'leases "x" not found' }],
      [502, '<html>bad gateway</html>'],
    ];
    const { client } = await serve((_req, res) => json(res, ...answers.shift()!));
    const conflict = await client.request('PUT', '/x').catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ApiError);
    expect(conflict).toMatchObject({ code: 409, message: 'HTTP 409: the object has been modified', status: { reason: 'Conflict' } });
    expect(classify(conflict)).toBe(Failure.Conflict);
    const missing = await client.request('GET', '/x').catch((e: unknown) => e);
    expect(classify(missing)).toBe(Failure.NotFound);
    await expect(client.request('GET', '/x')).rejects.toMatchObject({ code: 502, message: 'HTTP 502: <html>bad gateway</html>', status: undefined });
  });

  it('reads a rotated token file again once the last read is a minute old', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-'));
    try {
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, 'first\n');
      vi.useFakeTimers({ toFake: ['Date'] });
      const { client, seen } = await serve((_req, res) => json(res, 200, {}), { token: 'first', tokenFile });
      await client.request('GET', '/a');
      writeFileSync(tokenFile, 'second\n');
      await client.request('GET', '/b');
      vi.setSystemTime(Date.now() + 61_000);
      await client.request('GET', '/c');
      rmSync(tokenFile);
      vi.setSystemTime(Date.now() + 61_000);
      await client.request('GET', '/d');
      expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer first', 'Bearer first', 'Bearer second', 'Bearer second']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('streams watch events, lines split anywhere, until the server ends the watch', async () => {
    const { client, seen } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const stream = [
        { type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '2' } } },
        { type: 'BOOKMARK', object: { metadata: { resourceVersion: '3' } } },
        { type: 'DELETED', object: { metadata: { name: 'a', resourceVersion: '4' } } },
      ].map((e) => `${JSON.stringify(e)}\n`).join('');
      const cuts = [0, 7, 60, 61, stream.length];
      const write = (i: number): void => {
        if (i + 1 >= cuts.length) return void res.end();
        res.write(stream.slice(cuts[i], cuts[i + 1]));
        setTimeout(() => write(i + 1), 5);
      };
      write(0);
    });
    type Pod = { metadata: { name?: string; resourceVersion: string } };
    const events: WatchEvent<Pod>[] = [];
    await client.watch<Pod>('/api/v1/pods', { resourceVersion: '1', timeoutSeconds: 300 }, (e) => events.push(e), { signal: new AbortController().signal });
    expect(events.map((e) => `${e.type} ${e.object.metadata.name ?? ''}@${e.object.metadata.resourceVersion}`)).toEqual(['ADDED a@2', 'BOOKMARK @3', 'DELETED a@4']);
    expect(seen[0]?.url).toBe('/api/v1/pods?resourceVersion=1&timeoutSeconds=300&watch=true');
  });

  it('ends a watch with an ApiError on an ERROR event or a refused watch', async () => {
    const answers = [
      (res: ServerResponse) => {
        res.writeHead(200);
        res.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5)' } })}\n`);
      },
      (res: ServerResponse) => json(res, 403, { kind: 'Status', code: 403, message: 'pods is forbidden' }),
    ];
    const { client } = await serve((_req, res) => answers.shift()!(res));
    const signal = new AbortController().signal;
    const gone = await client.watch('/api/v1/pods', { timeoutSeconds: 300 }, () => undefined, { signal }).catch((e: unknown) => e);
    expect(classify(gone)).toBe(Failure.Gone);
    expect(gone).toMatchObject({ message: 'HTTP 410: too old resource version: 1 (5)' });
    await expect(client.watch('/api/v1/pods', { timeoutSeconds: 300 }, () => undefined, { signal })).rejects.toMatchObject({ code: 403 });
  });

  it('stops a watch when its signal aborts', async () => {
    const { client } = await serve((_req, res) => res.writeHead(200).flushHeaders());
    const stop = new AbortController();
    const watching = client.watch('/api/v1/pods', { timeoutSeconds: 300 }, () => undefined, { signal: stop.signal });
    setTimeout(() => stop.abort(), 50);
    await expect(watching).rejects.toThrow();
  });
});
