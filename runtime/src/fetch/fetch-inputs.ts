import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { join } from 'node:path';
import { getCACertificates } from 'node:tls';
import { ConfigError } from '#contract/config-load.js';

/**
 * Request headers from a directory holding one file per header (a mounted Secret: each key a
 * header name, its value the header's value), e.g. `Authorization` holding `Bearer …`. Values are
 * never put in an error message: they are credentials.
 */
export function readHeadersDir(dir: string): Record<string, string> {
  let names: string[];
  try {
    // The kubelet's atomic writer keeps its own `..data` and `..<timestamp>` entries beside the keys.
    names = readdirSync(dir).filter((name) => !name.startsWith('..'));
  } catch (error) {
    throw new ConfigError(`fetch: --headers-dir ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const headers: Record<string, string> = {};
  for (const name of names) {
    let value: string;
    try {
      // A value written with `echo` ends in a newline, which no header value may hold.
      value = readFileSync(join(dir, name), 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new ConfigError(`fetch: --headers-dir ${dir}: ${name}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    try {
      validateHeaderName(name);
    } catch {
      throw new ConfigError(`fetch: --headers-dir ${dir}: "${name}" is not a valid HTTP header name`);
    }
    try {
      validateHeaderValue(name, value);
    } catch {
      throw new ConfigError(`fetch: --headers-dir ${dir}: the value of header "${name}" holds characters a header may not (a line break or control character)`);
    }
    headers[name] = value;
  }
  return headers;
}

/**
 * The certificate authorities to trust for the download: the default ones (Node's bundle plus
 * NODE_EXTRA_CA_CERTS) and every certificate in a PEM file, e.g. a private CA's. A file that holds
 * no certificate is refused here, not later as an unexplained verification failure.
 */
export function readCaFile(file: string): string[] {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`fetch: --ca-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const certificates = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certificates.length === 0) throw new ConfigError(`fetch: --ca-file ${file}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it`);
  certificates.forEach((certificate, index) => {
    try {
      new X509Certificate(certificate);
    } catch (error) {
      throw new ConfigError(`fetch: --ca-file ${file}: certificate ${index + 1} is not valid (${(error as Error).message})`);
    }
  });
  return [...getCACertificates('default'), ...certificates];
}
