import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { BaseOptions } from '@platformatic/kafka';
import { ConfigError } from '#contract/config-load.js';
import type { StreamConfig } from '#contract/runtime-config.js';

/**
 * Connection settings shared by the consumer and the producer. TLS files are read once at start,
 * so a missing Secret key fails the start with one line instead of every reconnect.
 */
export function connectionOptions(config: StreamConfig): Pick<BaseOptions, 'bootstrapBrokers' | 'tls' | 'sasl'> {
  const read = (path: string | undefined, key: string): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(`config: stream.${key} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const ca = read(config.tlsCaFile, 'tlsCaFile');
  const cert = read(config.tlsCertFile, 'tlsCertFile');
  const key = read(config.tlsKeyFile, 'tlsKeyFile');
  const tls: ConnectionOptions | undefined = config.tls || ca || cert ? { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } : undefined;
  return {
    bootstrapBrokers: config.bootstrapServers ?? [],
    ...(tls ? { tls } : {}),
    ...(config.saslMechanism ? { sasl: { mechanism: config.saslMechanism, username: config.saslUsername!, password: config.saslPassword! } } : {}),
  };
}
