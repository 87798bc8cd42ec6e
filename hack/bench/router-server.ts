// The router's data path in a process of its own for `npm run bench:router`: the same app, pools
// and forwarding as router/src/run.ts, with the one model's route set from the command line instead
// of discovered from a cluster (discovery is not on a request's path). Logs the runtime's "ready" line.
import { Canaries } from '../../router/src/canary/canary.js';
import { Catalog } from '../../router/src/discovery/catalog.js';
import { Holds } from '../../router/src/hold.js';
import { buildApp } from '../../router/src/http/app.js';
import { RouterMetrics } from '../../router/src/metrics.js';
import { Upstreams } from '../../router/src/upstreams.js';
import { defaultAndValidate } from '../../router/src/config.js';

const [upstream, name = 'sentiment'] = process.argv.slice(2);
if (!upstream) {
  console.error('usage: router-server.js RUNTIME_URL [MODEL_NAME]');
  process.exit(2);
}
const cfg = defaultAndValidate({});
const catalog = new Catalog();
const upstreams = new Upstreams(cfg.upstream);
const metrics = new RouterMetrics();
catalog.set({ namespace: 'bench', name, uid: 'bench', ready: [upstream], replicas: 1, wakeable: false, languages: [] });
upstreams.update(`bench/${name}`, [upstream]);
const app = buildApp({
  catalog, canaries: new Canaries(cfg.canary.maxCopiesInFlight), upstreams, holds: new Holds(cfg.hold), metrics, wake: () => undefined,
  bodyLimitBytes: cfg.http.bodyLimitBytes, logLevel: 'warn', ready: () => true, synced: () => true,
}, { contentType: metrics.registry.contentType, metrics: () => metrics.registry.metrics() });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ msg: 'ready', url }));
process.once('SIGTERM', () => void app.close().then(() => upstreams.close()).then(() => process.exit(0)));
