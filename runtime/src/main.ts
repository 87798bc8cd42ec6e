import { ConfigError, loadConfig } from './config/load.js';
import { ModelLoadError } from './model/errors.js';
import { startServer } from './serve.js';

const PROGRAM = 'sentiment-runtime';

/** Expected failures are one line on stderr; anything else keeps its stack for a bug report. */
function fail(error: unknown): never {
  if (error instanceof ConfigError || error instanceof ModelLoadError) console.error(`${PROGRAM}: ${error.message}`);
  else console.error(`${PROGRAM}: unexpected error:`, error);
  process.exit(1);
}

async function serve(argv: string[]): Promise<void> {
  const configIndex = argv.findIndex((arg) => arg === '--config' || arg.startsWith('--config='));
  let file = process.env.SENTIMENT_CONFIG;
  if (configIndex !== -1) {
    const arg = argv[configIndex]!;
    file = arg.includes('=') ? arg.slice('--config='.length) : argv[configIndex + 1];
    argv = argv.filter((_, i) => i !== configIndex && (arg.includes('=') || i !== configIndex + 1));
    if (!file) throw new ConfigError('config: --config needs a file path');
  }
  const config = loadConfig({ file, env: process.env, argv });
  const server = await startServer(config);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    const timeout = setTimeout(() => {
      console.error(`${PROGRAM}: drain did not finish within ${config.server.shutdownTimeoutMs} ms; exiting`);
      process.exit(1);
    }, config.server.shutdownTimeoutMs);
    timeout.unref();
    server.drain().then(() => process.exit(0), fail);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await server.loaded;
}

const [command, ...rest] = process.argv.slice(2);
const args = command === undefined || command.startsWith('--') ? process.argv.slice(2) : rest;
if (command !== undefined && !command.startsWith('--') && command !== 'serve') {
  fail(new ConfigError(`unknown command "${command}" (commands: serve)`));
}
serve(args).catch(fail);
