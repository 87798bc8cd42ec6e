import { createHash } from 'node:crypto';
import { chownSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImages, imageName, openImage, runInImage, runToExit, type OpenImage } from '../support/images.js';
import { models, post, waitForReadyUrl } from '../support/runtime.js';

// The images hack/images/build.sh builds from the repository's Dockerfiles (once per `npm test`) on local look-alikes of their public bases; everything above the base is the
// Dockerfiles' own. Each runs here as a restricted pod would: read-only root, its USER, no shell.
const NONROOT = '65532:65532';
const SHELLS = ['sh', 'bash', 'dash', 'ash', 'busybox'];

/** Relative path -> sha256 of every file under dir. */
function digests(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
  }
  return out;
}

function shellsIn(image: OpenImage): string[] {
  const path = (image.config.Env ?? []).find((e) => e.startsWith('PATH='))!.slice('PATH='.length).split(':');
  return path.flatMap((dir) => SHELLS.map((shell) => join(dir, shell))).filter((file) => {
    try {
      statSync(join(image.rootfs, file));
      return true;
    } catch {
      return false;
    }
  });
}

describe('images built from the Dockerfiles', () => {
  let runtime: OpenImage;
  let operator: OpenImage;
  let model: OpenImage;
  /** The model image's files as its init container copied them (an emptyDir in a pod). */
  const copied = mkdtempSync(join(tmpdir(), 'model-copy-'));

  beforeAll(() => {
    ensureImages();
    runtime = openImage(imageName('runtime'));
    operator = openImage(imageName('operator'));
    model = openImage(imageName('model'));
    chownSync(copied, 65532, 65532);
  }, 1_200_000); // a first build on a fresh machine: minutes
  afterAll(() => {
    for (const image of [runtime, operator, model]) image?.close();
  });

  it('run as uid 65532 from a read-only root, with no shell in the images node runs in', async () => {
    for (const image of [runtime, operator, model]) expect(image.config.User, image.name).toBe(NONROOT);
    for (const image of [runtime, operator]) {
      expect(shellsIn(image), image.name).toEqual([]);
      const ids = await runToExit(image, { command: ['node', '-p', '[process.getuid(), process.getgid(), process.getgroups()].join(" ")'] });
      expect(ids, image.name).toEqual({ code: 0, output: '65532 65532 65532\n' });
    }
    // The harness really mounts the root read-only (readOnlyRootFilesystem), /tmp writable.
    const write = (file: string) => `try { require("fs").writeFileSync("${file}", "x"); console.log("${file} written") } catch (e) { console.log("${file}", e.code) }`;
    expect(await runToExit(runtime, { command: ['node', '-e', `${write('/app/probe')}; ${write('/tmp/probe')}`] })).toEqual({ code: 0, output: '/app/probe EROFS\n/tmp/probe written\n' });
  });

  it('the model image holds the model at /model, owned by root, readable by all, writable by none; its labels name it', () => {
    const files = join(model.rootfs, 'model');
    expect(digests(files)).toEqual(digests(models.demo));
    for (const entry of readdirSync(files, { recursive: true, withFileTypes: true })) {
      const stat = statSync(join(entry.parentPath, entry.name));
      expect(stat.uid).toBe(0);
      expect(stat.mode & 0o022).toBe(0);
      expect(stat.mode & (entry.isDirectory() ? 0o005 : 0o004)).toBe(entry.isDirectory() ? 0o005 : 0o004);
    }
    expect(model.config.Labels).toMatchObject({
      'dev.sentiment.model.name': 'sst2-bert-mini-en',
      'dev.sentiment.model.revision': '1.0.0',
      'dev.sentiment.model.quantization': 'int8',
      'dev.sentiment.model.path': '/model',
    });
  });

  it("the model image's own cp copies the model into a pod's volume as uid 65532 (the operator's init container)", async () => {
    const run = await runToExit(model, { command: ['cp', '-R', '/model/.', '/models/model'], volumes: { '/models/model': copied } });
    expect(run).toEqual({ code: 0, output: '' });
    expect(digests(copied)).toEqual(digests(models.demo));
    expect(statSync(join(copied, 'config.json')).uid).toBe(65532);
  });

  it('the runtime image loads onnxruntime-node and tokenizers and serves the copied model from a read-only root', async () => {
    const child = runInImage(runtime, { args: ['serve', '--server.host=127.0.0.1', '--server.port=0', '--model.path=/models/model'], volumes: { '/models/model': copied } });
    try {
      const url = await waitForReadyUrl(child, 120_000);
      const { status, json } = await post(`${url}/v1/sentiment`, { texts: ['a delightful gem', 'dreadful and boring'] });
      expect(status).toBe(200);
      expect(json.results.map((r: { label: string }) => r.label)).toEqual(['positive', 'negative']);
    } finally {
      // SIGKILL: util-linux unshare --fork ignores SIGTERM while it waits, so SIGTERM left the
      // runtime running after every suite; --kill-child then takes the namespace with it.
      child.kill('SIGKILL');
    }
  });

  it('the runtime image serves its bundled demo model with no model mounted', async () => {
    const child = runInImage(runtime, { args: ['serve', '--server.host=127.0.0.1', '--server.port=0'] });
    try {
      const url = await waitForReadyUrl(child, 120_000);
      expect((await post(`${url}/v1/sentiment`, { text: 'A wonderful, moving film.' })).json.results[0].label).toBe('positive');
    } finally {
      // SIGKILL: util-linux unshare --fork ignores SIGTERM while it waits, so SIGTERM left the
      // runtime running after every suite; --kill-child then takes the namespace with it.
      child.kill('SIGKILL');
    }
  });

  it('the operator image starts its entrypoint and fails in one line without a cluster or with a bad flag', async () => {
    expect(operator.config.Entrypoint).toContain('dist/operator/src/main.js');
    const noCluster = await runToExit(operator);
    expect(noCluster.code).toBe(2);
    expect(noCluster.output).toMatch(/^sentiment-operator: [^\n]+\n$/);
    const badFlag = await runToExit(operator, { args: ['--wrokers=4'] });
    expect(badFlag.code).toBe(2);
    expect(badFlag.output).toMatch(/^sentiment-operator: flags: [^\n]*wrokers[^\n]*\n$/);
    // The operator never loads the inference stack; its image leaves it out.
    const modules = readdirSync(join(operator.rootfs, 'app', 'node_modules'));
    expect(modules).toContain('prom-client');
    expect(modules.filter((m) => m === 'onnxruntime-node' || m === 'tokenizers')).toEqual([]);
  });

  it("the operator image runs the router with the chart's command, failing in one line without a cluster or with a bad flag", async () => {
    const command = ['node', 'dist/router/src/main.js'];
    const noCluster = await runToExit(operator, { command });
    expect(noCluster.code).toBe(2);
    expect(noCluster.output).toMatch(/^sentiment-router: no Kubernetes credentials[^\n]+\n$/);
    const badFlag = await runToExit(operator, { command: [...command, '--hold-timeout-ms=soon'] });
    expect(badFlag.code).toBe(2);
    expect(badFlag.output).toBe('sentiment-router: config: --hold-timeout-ms must be a number (got "soon")\n');
    expect(readdirSync(join(operator.rootfs, 'app', 'node_modules'))).toEqual(expect.arrayContaining(['fastify', 'undici']));
  });
});
