import { ConfigError } from '#contract/config-load.js';
import { KubeAccessError, loadKubeAccess } from '../../operator/src/kube/config.js';
import { loadConfig } from './config.js';
import { run } from './run.js';

try {
  const cfg = loadConfig(process.env, process.argv.slice(2));
  const access = loadKubeAccess();
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      stop.abort();
      setTimeout(() => process.exit(1), cfg.drain.timeoutMs).unref();
    });
  }
  const router = await run(stop.signal, access, cfg);
  await router.done;
  process.exit(0);
} catch (err) {
  const expected = err instanceof ConfigError || err instanceof KubeAccessError;
  if (expected) console.error(`sentiment-router: ${err.message}`);
  else console.error('sentiment-router: unexpected error:', err);
  process.exit(expected ? 2 : 1);
}
