import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * client-node 2.0.1 builds a new undici Agent, so a new TLS connection, for every request
 * (KubeConfig.createDispatcher) and never closes it: a handshake on both ends per API call, which
 * at a thousand models dominates the time to converge. This KubeConfig gives every request for
 * the same cluster and user one pooled agent, whose connections stay alive.
 */
export class PooledKubeConfig extends KubeConfig {
  private readonly pools = new Map<string, Dispatcher>();

  static from(source: KubeConfig): PooledKubeConfig {
    const pooled = new PooledKubeConfig();
    pooled.loadFromOptions({ clusters: source.clusters, users: source.users, contexts: source.contexts, currentContext: source.currentContext });
    return pooled;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const created = context.getDispatcher();
    if (!created) return;
    const key = JSON.stringify([this.getCurrentCluster()?.name, this.getCurrentUser()?.name]);
    const pooled = this.pools.get(key);
    // The agent just created has opened nothing yet, so dropping it costs nothing.
    if (pooled) context.setDispatcher(pooled);
    else this.pools.set(key, created);
  }

  /** Closes the pooled connections, once nothing uses them any more. */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}
