import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models, spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

/** The URL model path end to end: a real HTTPS server, a real archive, the runtime's own fetch command. */
describe('runtime fetch (URL models)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fetch-'));
  const caFile = join(dir, 'cert.pem');
  let server: Server;
  let base = '';
  let archiveSha = '';

  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', caFile], { stdio: 'ignore' });
    const archive = join(dir, 'model.tar.gz');
    // Wrapped in one top folder, as `tar czf model.tar.gz sst2-bert-mini-en/` makes it.
    await create({ gzip: true, file: archive, cwd: join(models.demo, '..') }, ['sst2-bert-mini-en']);
    const bytes = readFileSync(archive);
    archiveSha = createHash('sha256').update(bytes).digest('hex');
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(caFile) }, (request, response) => {
      if (request.url === '/model.tar.gz') response.end(bytes);
      else if (request.url === '/garbage.tar.gz') response.end('not an archive');
      else response.writeHead(404).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  async function fetchCommand(args: string[]): Promise<{ code: number | null; output: string }> {
    const child = spawnRuntime(['fetch', ...args], { NODE_EXTRA_CA_CERTS: caFile });
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, output: child.output().trim() };
  }

  it('downloads, verifies and unpacks a model the runtime can then serve', async () => {
    const dest = join(dir, 'models', 'model');
    const first = await fetchCommand(['--url', `${base}/model.tar.gz`, '--sha256', archiveSha, '--dest', dest]);
    expect(first.code).toBe(0);
    expect(existsSync(join(dest, 'onnx', 'model_quantized.onnx'))).toBe(true);
    expect(readFileSync(join(dest, 'config.json'), 'utf8')).toBe(readFileSync(join(models.demo, 'config.json'), 'utf8'));
    // A restarted init container finds the verified model and does not download it again.
    const again = await fetchCommand(['--url', `${base}/model.tar.gz`, '--sha256', archiveSha, '--dest', dest]);
    expect(again.output).toContain('already present');

    const runtime = spawnRuntime(['--server.port=0', '--server.host=127.0.0.1', `--model.path=${dest}`, '--server.drainDelayMs=0']);
    await waitForReadyUrl(runtime);
    runtime.kill('SIGTERM');
    expect((await once(runtime, 'exit'))[0]).toBe(0);
  });

  it.each([
    ['a checksum mismatch', () => ['--url', `${base}/model.tar.gz`, '--sha256', 'a'.repeat(64)], 'sha256 mismatch'],
    ['an HTTP error', () => ['--url', `${base}/missing.tar.gz`, '--sha256', archiveSha], 'HTTP 404'],
    ['a file that is not an archive', () => ['--url', `${base}/garbage.tar.gz`, '--sha256', createHash('sha256').update('not an archive').digest('hex')], 'not a valid .tar.gz'],
    ['plain http', () => ['--url', 'http://127.0.0.1:1/m.tar.gz', '--sha256', archiveSha], 'only https URLs'],
    ['a malformed checksum', () => ['--url', `${base}/model.tar.gz`, '--sha256', 'abc'], '64 hex characters'],
    ['an oversized archive', () => ['--url', `${base}/model.tar.gz`, '--sha256', archiveSha, '--max-bytes', '1000'], 'limit'],
  ])('refuses %s with one clear line and leaves no model behind', async (_name, args, message) => {
    const dest = join(dir, 'refused', 'model');
    const { code, output } = await fetchCommand([...args(), '--dest', dest]);
    expect(code).toBe(1);
    expect(output.split('\n')).toHaveLength(1);
    expect(output).toContain(message);
    expect(existsSync(dest)).toBe(false);
  });
});
