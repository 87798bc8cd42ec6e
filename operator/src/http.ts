import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { explainListenError } from '#contract/listen-error.js';
import { envName } from './config.js';

export interface Probes {
  /** The process works; a failure here makes the kubelet restart it. */
  live(): boolean;
  /** Caches are synced: a follower is ready too, so it can take over without a cold start. */
  ready(): boolean;
}

const LISTEN_SETTINGS = { host: `--http-host (${envName('http-host')})`, port: `--http-port (${envName('http-port')})` };

/** /healthz, /readyz and /metrics; three fixed routes need no framework. */
export async function startHttpServer(host: string, port: number, probes: Probes, registry: Registry): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const probe = (ok: boolean) => {
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      probe(probes.live());
    } else if (path === '/readyz') {
      probe(probes.ready());
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(explainListenError(error, { host, port }, LISTEN_SETTINGS)));
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
