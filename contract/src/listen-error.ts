import { ConfigError } from './config-load.js';

/**
 * Why a server could not bind, as a ConfigError both programs print as one line: a port another
 * process holds is a setting to change, not a bug, so it names the setting and shows no stack.
 * Any other failure passes through unchanged.
 */
export function explainListenError(error: unknown, address: { host: string; port: number }, settings: { host: string; port: string }): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${address.host}:${address.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`port ${address.port} is already in use (EADDRINUSE on ${where}); set ${settings.port} to a free port, or stop the process that holds it`);
    case 'EACCES':
      return new ConfigError(`not allowed to listen on ${where} (EACCES: ports below 1024 need privileges); set ${settings.port} to a port from 1024 up`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`cannot listen on ${where} (EADDRNOTAVAIL: no interface of this machine has that address); set ${settings.host} to one it has, or 0.0.0.0`);
    default:
      return error;
  }
}
