import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { EndpointProxy } from '../support/endpoint-proxy.js';
import { spawnRuntime, waitForReadyUrl } from '../support/runtime.js';

const TEXTS = ['a moving, beautifully acted drama', 'tedious and overlong', 'the best film of the year', 'I want my money back'];
const MIN_REQUESTS = 10_000;

async function readyRuntime(revision: string, children: ReturnType<typeof spawnRuntime>[]): Promise<{ child: ReturnType<typeof spawnRuntime>; base: string }> {
  const child = spawnRuntime([
    '--server.port=0',
    '--server.host=127.0.0.1',
    `--model.revision=${revision}`,
    // Long enough for the proxy's 100 ms readiness polling to stop routing here before we stop serving.
    '--server.drainDelayMs=1500',
  ]);
  children.push(child); // registered before waiting, so a failed start is still cleaned up
  return { child, base: await waitForReadyUrl(child) };
}

/**
 * The runtime's side of a rolling update, end to end on real processes: version A serves under
 * steady load, version B starts and becomes ready, A gets SIGTERM. Not one request may fail, and
 * once A has left the ready set every request is answered by B.
 */
describe('zero-downtime switch between runtime versions', () => {
  const children: ReturnType<typeof spawnRuntime>[] = [];
  const proxy = new EndpointProxy(100);
  afterAll(async () => {
    await proxy.stop();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it(`fails 0 of at least ${MIN_REQUESTS} requests`, { timeout: 180_000 }, async () => {
    const a = await readyRuntime('A', children);
    proxy.add(a.base);
    const url = `${await proxy.start()}/v1/sentiment`;

    const results: { sentAt: number; status: number; revision?: string; error?: string }[] = [];
    let stopLoad = false;
    const client = async (id: number): Promise<void> => {
      for (let i = id; !stopLoad; i += 16) {
        const sentAt = performance.now();
        try {
          const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `${TEXTS[i % TEXTS.length]} ${i}` }) });
          const text = await response.text();
          const revision = response.status === 200 ? (JSON.parse(text) as { revision: string }).revision : undefined;
          results.push({ sentAt, status: response.status, revision, ...(revision ? {} : { error: text.slice(0, 200) }) });
        } catch (error) {
          results.push({ sentAt, status: 0, error: String(error) });
        }
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, (_, id) => client(id)));
    const waitForResults = async (count: number): Promise<void> => {
      while (results.length < count) await new Promise((resolve) => setTimeout(resolve, 50));
    };

    await waitForResults(2_000);
    const b = await readyRuntime('B', children);
    proxy.add(b.base);
    while (!proxy.ready().includes(b.base)) await new Promise((resolve) => setTimeout(resolve, 20));
    await waitForResults(results.length + 1_000);

    const exited = once(a.child, 'exit');
    a.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    await waitForResults(Math.max(MIN_REQUESTS, results.length + 2_000));
    stopLoad = true;
    await load;

    const failures = results.filter((r) => r.status !== 200);
    expect(failures.slice(0, 5)).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(MIN_REQUESTS);
    const switchedAt = proxy.changes.find((change) => !change.ready.includes(a.base))!.at;
    const afterSwitch = results.filter((r) => r.sentAt > switchedAt);
    expect(afterSwitch.length).toBeGreaterThan(1_000);
    expect(afterSwitch.filter((r) => r.revision !== 'B')).toEqual([]);
    expect(results.some((r) => r.revision === 'A')).toBe(true);
    console.log(`zero-downtime switch: ${results.length} requests, ${failures.length} failed, ${afterSwitch.length} sent after A left the ready set, all answered by B`);
  });
});
