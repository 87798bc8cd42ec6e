import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models, startRuntime } from '../support/runtime.js';

/** Everything schemathesis can judge from one response; "positive data acceptance" is left out
 * because the schemas cannot say every limit (a shape must match its data, texts must not be blank). */
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_headers_conformance', 'response_schema_conformance', 'negative_data_rejection'];
const EXAMPLES_PER_OPERATION = 50;

/**
 * schemathesis (pinned, hack/fuzz-setup.sh) generates requests for every operation of the
 * runtime's own GET /openapi.json, valid and invalid, and checks each answer against the document:
 * no 5xx, and every status, content type and body as documented. Seeded, so a failure reproduces.
 */
describe('property-based API fuzzing (schemathesis against GET /openapi.json)', () => {
  let runtime: Awaited<ReturnType<typeof startRuntime>>;
  let dir: string;

  beforeAll(async () => {
    runtime = await startRuntime({ model: { path: models.demo, name: 'sst2', revision: '3' }, server: { maxTextsPerRequest: 32 } });
    dir = mkdtempSync(join(tmpdir(), 'runtime-fuzz-'));
  });
  afterAll(async () => {
    await runtime?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`answers ${EXAMPLES_PER_OPERATION} generated cases per operation with no server error and as documented`, async () => {
    const st = process.env.SENTIMENT_SCHEMATHESIS;
    if (!st) throw new Error('SENTIMENT_SCHEMATHESIS is not set: run the tests through hack/dev (it installs schemathesis into a cached venv)');
    // The served model's name and version, so generated infer requests reach the codec and the model, not only the 404.
    const config = join(dir, 'schemathesis.toml');
    writeFileSync(config, '[parameters]\n"path.name" = "sst2"\n"path.version" = "3"\n');
    const args = ['--config-file', config, '--no-color', 'run', `${runtime.url}/openapi.json`, '--checks', CHECKS.join(','), '--max-examples', String(EXAMPLES_PER_OPERATION), '--seed', '17', '--generation-database', 'none', '--workers', '2', '--request-timeout', '30'];
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = execFile(st, args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (_error, stdout, stderr) => resolve({ code: child.exitCode, output: stdout + stderr }));
    });
    const summary = /(\d+) generated, (\d+) passed/.exec(output);
    expect({ code, failures: code === 0 ? '' : output.slice(output.indexOf('FAILURES')) }).toEqual({ code: 0, failures: '' });
    // Not a vacuous pass: the fuzzer reached every operation many times.
    expect(summary, output).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThan(16 * EXAMPLES_PER_OPERATION);
    expect(summary![2]).toBe(summary![1]);
  }, 180_000);
});
