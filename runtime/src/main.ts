import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '#contract/config-load.js';
import { FETCH_URL_ENV } from '#contract/model-fetch.js';
import { loadConfig } from './config/load.js';
import { readCaFile, readHeadersDir } from './fetch/fetch-inputs.js';
import { fetchModel } from './fetch/fetch-model.js';
import { ModelLoadError } from './model/errors.js';
import { isServingProcess } from './processes/serving-process.js';
import { superviseServingProcesses } from './processes/supervisor.js';
import { startServer } from './server.js';

const PROGRAM = 'sentiment-runtime';
/**
 * Kubernetes' default terminationMessagePath: what is written there becomes the container's
 * termination message, which the operator shows in the model's Degraded condition.
 */
const TERMINATION_LOG = '/dev/termination-log';

/** Expected failures are one line on stderr; anything else keeps its stack for a bug report. */
function fail(error: unknown): never {
  const expected = error instanceof ConfigError || error instanceof ModelLoadError;
  if (expected) console.error(`${PROGRAM}: ${error.message}`);
  else console.error(`${PROGRAM}: unexpected error:`, error);
  if (existsSync(TERMINATION_LOG)) {
    const line = expected ? error.message : `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
    try {
      writeFileSync(TERMINATION_LOG, line);
    } catch (writeError) {
      console.error(`${PROGRAM}: could not write ${TERMINATION_LOG}: ${(writeError as Error).message}`);
    }
  }
  process.exit(1);
}

/** `serve`: read the config, then supervise serving processes or be the one server. */
async function serveCommand(argv: string[]): Promise<void> {
  const configIndex = argv.findIndex((arg) => arg === '--config' || arg.startsWith('--config='));
  let file = process.env.SENTIMENT_CONFIG;
  if (configIndex !== -1) {
    const arg = argv[configIndex]!;
    file = arg.includes('=') ? arg.slice('--config='.length) : argv[configIndex + 1];
    argv = argv.filter((_, i) => i !== configIndex && (arg.includes('=') || i !== configIndex + 1));
    if (!file) throw new ConfigError('config: --config needs a file path');
  }
  const config = loadConfig({ file, env: process.env, argv });
  if (config.server.processes > 1 && !isServingProcess()) process.exit(await superviseServingProcesses(config));
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

/**
 * The init-container half of URL models: download, verify, unpack, then the pod's runtime serves it.
 * The URL may come from the environment instead of --url, so that a presigned one (the operator
 * sets it from a Secret) never shows in the pod's arguments or the node's process list.
 */
async function fetchCommand(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        sha256: { type: 'string' },
        dest: { type: 'string' },
        'headers-dir': { type: 'string' },
        'ca-file': { type: 'string' },
        'max-bytes': { type: 'string', default: String(8 * 1024 ** 3) },
        'max-unpacked-bytes': { type: 'string', default: String(16 * 1024 ** 3) },
        'timeout-seconds': { type: 'string', default: '600' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new ConfigError(`fetch: ${(error as Error).message}`);
  }
  const { sha256, dest } = values;
  const url = values.url ?? process.env[FETCH_URL_ENV];
  if (!url || !sha256 || !dest) throw new ConfigError(`fetch: --url (or ${FETCH_URL_ENV}), --sha256 and --dest are required`);
  const maxBytes = Number(values['max-bytes']);
  const maxUnpackedBytes = Number(values['max-unpacked-bytes']);
  const timeoutSeconds = Number(values['timeout-seconds']);
  if (!(maxBytes > 0) || !(maxUnpackedBytes > 0) || !(timeoutSeconds > 0)) throw new ConfigError('fetch: --max-bytes, --max-unpacked-bytes and --timeout-seconds must be positive numbers');
  const headers = values['headers-dir'] === undefined ? undefined : readHeadersDir(values['headers-dir']);
  const ca = values['ca-file'] === undefined ? undefined : readCaFile(values['ca-file']);
  await fetchModel({ url, sha256, dest, maxBytes, maxUnpackedBytes, timeoutMs: timeoutSeconds * 1000, headers, ca }, (message) => console.log(`${PROGRAM}: ${message}`));
}

const commands: Record<string, (argv: string[]) => Promise<void>> = { serve: serveCommand, fetch: fetchCommand };
const [first, ...rest] = process.argv.slice(2);
const implicitServe = first === undefined || first.startsWith('--');
const command = implicitServe ? serveCommand : commands[first];
if (!command) fail(new ConfigError(`unknown command "${first}" (commands: ${Object.keys(commands).join(', ')})`));
command(implicitServe ? process.argv.slice(2) : rest).catch(fail);
