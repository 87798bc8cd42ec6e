import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from './client.js';
import { Informer } from './informer.js';

interface Obj {
  metadata: V1ObjectMeta & { name: string; resourceVersion: string };
}

const obj = (name: string, rv: number, namespace = 'ml'): Obj => ({ metadata: { name, namespace, resourceVersion: String(rv), managedFields: [{}] } });
const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;

type Step = (res: ServerResponse, query: URLSearchParams) => void;

let server: Server | undefined;
let client: KubeClient | undefined;
let informer: Informer<Obj> | undefined;

afterEach(async () => {
  await informer?.stop();
  client?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  [server, client, informer] = [undefined, undefined, undefined];
});

/**
 * An apiserver that answers each list and watch with the next step of its script, and records
 * the queries; once the script is over, a watch hangs until the informer stops.
 */
async function apiserver(steps: { list: Step[]; watch: Step[] }) {
  const calls: string[] = [];
  const accepts: string[] = [];
  let notify = () => {};
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '', 'http://x');
    const watch = url.searchParams.get('watch') === 'true';
    url.searchParams.delete('timeoutSeconds');
    calls.push(`${watch ? 'watch' : 'list'} ${url.searchParams}`);
    accepts.push(req.headers.accept ?? '');
    notify();
    const step = (watch ? steps.watch : steps.list).shift();
    if (step) step(res, url.searchParams);
    else res.writeHead(200).flushHeaders();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  client = new KubeClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  const callsReach = (n: number) => new Promise<void>((resolve) => {
    notify = () => calls.length >= n && resolve();
    notify();
  });
  return { client, calls, accepts, callsReach };
}

function start(c: KubeClient, opts: { labelSelector?: string; metadataOnly?: boolean } = {}) {
  const changes: string[] = [];
  const errors: string[] = [];
  informer = new Informer<Obj>(c, {
    path: '/api/v1/namespaces/ml/pods', ...opts,
    keep: (o) => {
      delete o.metadata.managedFields;
      return o;
    },
    onChange: (o, deleted) => changes.push(`${deleted ? 'delete' : 'set'} ${o.metadata.name}@${o.metadata.resourceVersion}`),
    onError: (err, retryInMs) => errors.push(`${(err as Error).message} (retry in ${retryInMs} ms)`),
    backoff: { firstMs: 10, maxMs: 40 },
  });
  informer.start();
  return { informer, changes, errors };
}

const list = (items: Obj[], rv: number, next?: string): Step => (res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ metadata: { resourceVersion: String(rv), continue: next }, items }));
};

describe('Informer', () => {
  it('lists in pages, watches from there, follows bookmarks, and lists again after 410 Gone', async () => {
    const { client, calls, callsReach } = await apiserver({
      list: [
        list([obj('a', 5)], 10, 'page-2'),
        list([obj('b', 7)], 10),
        // After the 410: a is unchanged, c is gone, d is new.
        list([obj('a', 12), obj('d', 20)], 20),
      ],
      watch: [
        (res) => {
          res.writeHead(200);
          res.write(line('ADDED', obj('c', 11)) + line('MODIFIED', obj('a', 12)).slice(0, 20));
          res.end(line('MODIFIED', obj('a', 12)).slice(20) + line('BOOKMARK', { metadata: { resourceVersion: '15' } }));
        },
        (res) => {
          res.writeHead(200);
          res.write(line('DELETED', obj('b', 16)) + line('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }));
        },
      ],
    });
    const { informer, changes, errors } = start(client, { labelSelector: 'app=x' });
    await informer.synced;
    expect(informer.isSynced).toBe(true);
    await callsReach(6);
    expect(calls).toEqual([
      'list labelSelector=app%3Dx&limit=500',
      'list labelSelector=app%3Dx&limit=500&continue=page-2',
      'watch labelSelector=app%3Dx&resourceVersion=10&allowWatchBookmarks=true&watch=true',
      'watch labelSelector=app%3Dx&resourceVersion=15&allowWatchBookmarks=true&watch=true',
      'list labelSelector=app%3Dx&limit=500',
      'watch labelSelector=app%3Dx&resourceVersion=20&allowWatchBookmarks=true&watch=true',
    ]);
    expect(changes).toEqual(['set a@5', 'set b@7', 'set c@11', 'set a@12', 'delete b@16', 'delete c@11', 'set d@20']);
    expect(errors).toEqual([]);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['a', 'd']);
    expect(informer.get('d', 'ml')).toEqual({ metadata: { name: 'd', namespace: 'ml', resourceVersion: '20' } });
    expect(informer.get('d', 'other')).toBeUndefined();
    expect(informer.list('other')).toEqual([]);
  });

  it('retries failed lists and watches with growing backoff, and watches on from where it was', async () => {
    const status = (code: number, message: string): Step => (res) => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code, message }));
    };
    const { client, calls, callsReach } = await apiserver({
      list: [status(500, 'etcd timeout'), status(403, 'forbidden'), list([obj('a', 1)], 3)],
      watch: [status(503, 'unavailable'), (res) => {
        res.writeHead(200).write(line('ADDED', obj('b', 4)).slice(0, 10));
        setTimeout(() => res.destroy(), 10);
      }],
    });
    const { informer, changes, errors } = start(client);
    await informer.synced;
    await callsReach(6);
    expect(calls.map((c) => c.replace(/&allowWatchBookmarks=true&watch=true|&?limit=500/g, ''))).toEqual([
      'list ', 'list ', 'list ', 'watch resourceVersion=3', 'watch resourceVersion=3', 'watch resourceVersion=3',
    ]);
    expect(errors).toEqual([
      'HTTP 500: etcd timeout (retry in 10 ms)', 'HTTP 403: forbidden (retry in 20 ms)',
      'HTTP 503: unavailable (retry in 10 ms)', 'aborted (retry in 20 ms)',
    ]);
    expect(changes).toEqual(['set a@1']);
  });

  it('backs off from a server that closes every watch at once', async () => {
    const { client, calls, callsReach } = await apiserver({
      list: [list([], 1)],
      watch: [(res) => res.writeHead(200).end(), (res) => res.writeHead(200).end()],
    });
    const { errors } = start(client);
    await callsReach(4);
    expect(calls).toHaveLength(4);
    expect(errors).toEqual(['watch closed at once without an event (retry in 10 ms)', 'watch closed at once without an event (retry in 20 ms)']);
  });

  it('asks for metadata only when that is all it keeps', async () => {
    const empty: Step = (res) => res.writeHead(200).end(JSON.stringify({ kind: 'PartialObjectMetadataList', metadata: { resourceVersion: '1' }, items: null }));
    const { client, accepts, callsReach } = await apiserver({ list: [empty], watch: [] });
    const { informer } = start(client, { metadataOnly: true });
    await informer.synced;
    await callsReach(2);
    expect(accepts).toEqual([
      'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1', 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
    ]);
  });
});
