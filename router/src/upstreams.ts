import { Pool } from 'undici';

export interface UpstreamOptions {
  connectionsPerPod: number;
  timeoutMs: number;
}

interface Upstream {
  url: string;
  pool: Pool;
  inflight: number;
}

/**
 * One keep-alive connection pool per ready pod, made when its endpoint turns ready and closed
 * (after the requests on it finish) when it leaves: a request only picks a pool, so it costs
 * neither DNS nor a connect.
 */
export class Upstreams {
  private readonly byUrl = new Map<string, Upstream>();
  /** Each model's ready pods, in the catalog's order. */
  private readonly byModel = new Map<string, Upstream[]>();
  private turn = 0;

  constructor(private readonly opts: UpstreamOptions) {}

  /** Sets the ready pods of one model (key namespace/name); pools no model uses any more are closed. */
  update(key: string, urls: readonly string[]): void {
    const previous = this.byModel.get(key) ?? [];
    if (urls.length === 0) this.byModel.delete(key);
    else this.byModel.set(key, urls.map((url) => this.open(url)));
    for (const old of previous) if (!urls.includes(old.url)) this.closeUnused(old);
  }

  /**
   * The least busy pod of a model, ties broken in turn so equal loads spread evenly; undefined
   * when it has none ready. The caller must call release() once its answer has ended.
   */
  pick(key: string): Upstream | undefined {
    const candidates = this.byModel.get(key);
    if (!candidates || candidates.length === 0) return undefined;
    const start = this.turn++ % candidates.length;
    let best = candidates[start]!;
    for (let i = 1; i < candidates.length; i++) {
      const next = candidates[(start + i) % candidates.length]!;
      if (next.inflight < best.inflight) best = next;
    }
    best.inflight++;
    return best;
  }

  release(upstream: Upstream): void {
    upstream.inflight--;
  }

  async close(): Promise<void> {
    const pools = [...this.byUrl.values()].map((u) => u.pool.close());
    this.byUrl.clear();
    this.byModel.clear();
    await Promise.allSettled(pools);
  }

  private open(url: string): Upstream {
    let upstream = this.byUrl.get(url);
    if (!upstream) {
      const pool = new Pool(url, {
        connections: this.opts.connectionsPerPod,
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
        // Below the runtime's keep-alive (Node's default 5 s), so the router never reuses a connection the pod is closing.
        keepAliveTimeout: 4000,
      });
      upstream = { url, pool, inflight: 0 };
      this.byUrl.set(url, upstream);
    }
    return upstream;
  }

  private closeUnused(upstream: Upstream): void {
    for (const list of this.byModel.values()) if (list.includes(upstream)) return;
    this.byUrl.delete(upstream.url);
    // close() lets the requests already on it finish: a pod leaving the endpoints is draining, not dead.
    void upstream.pool.close().catch(() => undefined);
  }
}

export type { Upstream };
