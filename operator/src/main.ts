import { ConfigError } from '#contract/config-load.js';
import { loadConfig } from './config.js';
import { KubeAccessError, loadKubeAccess } from './kube/config.js';
import { run } from './run.js';

/** Beyond this a stuck shutdown (an apiserver that stopped answering) ends the hard way. */
const SHUTDOWN_LIMIT_MS = 30_000;

try {
  const cfg = loadConfig(process.env, process.argv.slice(2));
  const access = loadKubeAccess();
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      stop.abort();
      setTimeout(() => process.exit(1), SHUTDOWN_LIMIT_MS).unref();
    });
  }
  const operator = await run(stop.signal, access, cfg);
  await operator.done;
  process.exit(0);
} catch (err) {
  const expected = err instanceof ConfigError || err instanceof KubeAccessError;
  if (expected) console.error(`sentiment-operator: ${err.message}`);
  else console.error('sentiment-operator: unexpected error:', err);
  process.exit(expected ? 2 : 1);
}
