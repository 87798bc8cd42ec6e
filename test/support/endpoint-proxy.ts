import { request as httpRequest, Agent, createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/**
 * Stands in for a Service: polls each registered endpoint's readiness like the endpoints
 * controller does with a readiness probe, and load-balances only over the ready ones, round
 * robin, without retries (kube-proxy does not retry either).
 */
export class EndpointProxy {
  private readonly endpoints = new Map<string, { ready: boolean }>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private server: Server | undefined;
  private poller: NodeJS.Timeout | undefined;
  private next = 0;
  /** Every change of the ready set, with its time, for the test to reason about the switch. */
  readonly changes: { at: number; ready: string[] }[] = [];

  constructor(private readonly probeIntervalMs: number) {}

  add(base: string): void {
    this.endpoints.set(base, { ready: false });
  }

  ready(): string[] {
    return [...this.endpoints].filter(([, state]) => state.ready).map(([base]) => base);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const ready = this.ready();
      if (ready.length === 0) {
        res.writeHead(503).end('no ready endpoints');
        return;
      }
      const target = new URL(req.url ?? '/', ready[this.next++ % ready.length]);
      const upstream = httpRequest(target, { method: req.method, headers: req.headers, agent: this.agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', (error) => res.writeHead(502).end(`upstream error: ${error.message}`));
      req.pipe(upstream);
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.poller = setInterval(() => void this.probe(), this.probeIntervalMs);
    await this.probe();
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    clearInterval(this.poller);
    this.agent.destroy();
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve) ?? resolve(undefined));
  }

  private async probe(): Promise<void> {
    let changed = false;
    await Promise.all(
      [...this.endpoints].map(async ([base, state]) => {
        let ready = false;
        try {
          ready = (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200;
        } catch {
          ready = false;
        }
        if (ready !== state.ready) changed = true;
        state.ready = ready;
      }),
    );
    if (changed) this.changes.push({ at: performance.now(), ready: this.ready() });
  }
}
