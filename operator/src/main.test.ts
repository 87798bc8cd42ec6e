import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envName } from './config.js';

const repoRoot = join(import.meta.dirname, '..', '..');

/** The built operator (the test global setup compiles dist/) as its own process: exit code and stderr. */
async function runOperator(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'operator', 'src', 'main.js')], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

describe('operator process', () => {
  it('exits non-zero with one line naming the flag when its HTTP port is already in use', async () => {
    // The endpoints listen before the first API call, so an apiserver that is not there is never asked.
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'operator-main-')), 'config');
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const { code, output } = await runOperator({ KUBECONFIG: kubeconfig, [envName('http-host')]: '127.0.0.1', [envName('http-port')]: String(port) });
      expect(code).toBe(2);
      expect(output).toBe(`sentiment-operator: port ${port} is already in use (EADDRINUSE on 127.0.0.1:${port}); set --http-port (SENTIMENT_OPERATOR_HTTP_PORT) to a free port, or stop the process that holds it\n`);
    } finally {
      holder.close();
    }
  });
});
