import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models, post, startRuntime } from '../support/runtime.js';

const CHROMIUM = process.env.SENTIMENT_CHROMIUM ?? '/usr/bin/chromium';

/** The playground as a person uses it: a real browser types, clicks and reads the page. */
describe('playground page', () => {
  let runtime: Awaited<ReturnType<typeof startRuntime>>;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run the tests through hack/dev, which installs Debian's chromium`);
    runtime = await startRuntime({ model: { path: models.demo, name: 'sst2-demo', revision: 'r42' } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await runtime?.close();
  });

  it('classifies what a person types and shows the same answer as the API', async () => {
    const page = await browser.newPage();
    await page.goto(runtime.url + '/');
    await expect.poll(() => page.textContent('#model')).toContain('sst2-demo · revision r42 · int8 on cpu');

    for (const [text, expected] of [
      ['A warm, funny and beautifully acted film.', 'positive'],
      ['A tedious, joyless mess that wastes its cast.', 'negative'],
    ] as const) {
      await page.fill('#text', text);
      await page.click('#analyze');
      await expect.poll(() => page.textContent('#label')).toBe(expected);
      const api = (await post(`${runtime.url}/v1/sentiment`, { text })).json.results[0];
      expect(await page.textContent('#score')).toBe(`(${api.score.toFixed(4)})`);
      const shown = await page.$$eval('#scores .row', (rows) => rows.map((row) => [row.getAttribute('data-label'), row.querySelector('.value')!.textContent]));
      expect(shown).toEqual(api.scores.map((s: { label: string; score: number }) => [s.label, s.score.toFixed(4)]));
    }

    const screenshot = join(mkdtempSync(join(tmpdir(), 'playground-')), 'playground.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(5_000);
    console.log(`playground screenshot: ${screenshot}`);
  });

  it('shows the server\'s error for input it refuses', async () => {
    const page = await browser.newPage();
    await page.goto(runtime.url + '/');
    await page.fill('#text', '   ');
    await page.click('#analyze');
    await expect.poll(() => page.textContent('#error')).toContain('text 0 is empty');
  });
});
