import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, loadConfig } from './config.js';
import { run } from './run.js';

/** Beyond this a stuck shutdown (an apiserver that stopped answering) ends the hard way. */
const SHUTDOWN_LIMIT_MS = 30_000;

try {
  const cfg = loadConfig(process.env, process.argv.slice(2));
  // In-cluster service account, or $KUBECONFIG / ~/.kube/config outside.
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      stop.abort();
      setTimeout(() => process.exit(1), SHUTDOWN_LIMIT_MS).unref();
    });
  }
  const operator = await run(stop.signal, kubeConfig, cfg);
  await operator.done;
  process.exit(0);
} catch (err) {
  if (err instanceof ConfigError) console.error(`sentiment-operator: ${err.message}`);
  else console.error('sentiment-operator: unexpected error:', err);
  process.exit(err instanceof ConfigError ? 2 : 1);
}
