import { ConfigError } from '#contract/config-load.js';
import { runProcess } from '#contract/process-main.js';
import { loadConfig } from './config.js';
import { KubeAccessError, loadKubeAccess } from './kube/config.js';
import { run } from './run.js';

/** Beyond this a stuck shutdown (an apiserver that stopped answering) ends the hard way. */
const SHUTDOWN_LIMIT_MS = 30_000;

await runProcess('sentiment-operator', (err) => err instanceof ConfigError || err instanceof KubeAccessError, () => {
  const cfg = loadConfig(process.env, process.argv.slice(2));
  const access = loadKubeAccess();
  return { shutdownLimitMs: SHUTDOWN_LIMIT_MS, start: (stop) => run(stop, access, cfg) };
});
