import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCa {
  /** PEM of the CA certificate: what a client must be told to trust. */
  caCert: string;
  /** PEM key and certificate of a server the CA signed. */
  serverKey: string;
  serverCert: string;
}

/**
 * A private CA made with openssl, and a server certificate it signed for `names` (IP addresses or
 * DNS names): what an in-house model store presents, which no default trust store knows.
 */
export function makeTestCa(dir: string, names: string[]): TestCa {
  const file = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(['req', '-x509', ...ec, '-subj', '/CN=sentiment test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', file('ca.key'), '-out', file('ca.crt')]);
  const san = names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  openssl(['req', '-x509', '-CA', file('ca.crt'), '-CAkey', file('ca.key'), ...ec, '-subj', '/CN=model server', '-addext', `subjectAltName=${san}`, '-addext', 'basicConstraints=CA:FALSE', '-keyout', file('server.key'), '-out', file('server.crt')]);
  return { caCert: readFileSync(file('ca.crt'), 'utf8'), serverKey: readFileSync(file('server.key'), 'utf8'), serverCert: readFileSync(file('server.crt'), 'utf8') };
}
