import { ConfigError } from '#contract/config-load.js';
import { runProcess } from '#contract/process-main.js';
import { KubeAccessError, loadKubeAccess } from '../../operator/src/kube/config.js';
import { loadConfig } from './config.js';
import { run } from './run.js';

await runProcess('sentiment-router', (err) => err instanceof ConfigError || err instanceof KubeAccessError, () => {
  const cfg = loadConfig(process.env, process.argv.slice(2));
  const access = loadKubeAccess();
  return { shutdownLimitMs: cfg.drain.timeoutMs, start: (stop) => run(stop, access, cfg) };
});
