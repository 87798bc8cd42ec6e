import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models, post, requireShared, startRuntime } from '../support/runtime.js';

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

  it('invites English on the English model, and shows how long each request took', async () => {
    const page = await browser.newPage();
    await page.goto(runtime.url + '/');
    await expect.poll(() => page.getAttribute('#text', 'lang')).toBe('en');
    expect(await page.getAttribute('#text', 'placeholder')).toBe('Type a sentence, e.g. A warm, funny and beautifully acted film.');
    await page.fill('#text', 'What a waste of time.');
    await page.click('#analyze');
    await expect.poll(() => page.textContent('#latency')).toMatch(/^answered in \d+(\.\d)? ms$/);
  });

  it('scores one text per line when asked, in a table of its own', async () => {
    const page = await browser.newPage();
    await page.goto(runtime.url + '/');
    const lines = ['A warm, funny and beautifully acted film.', 'A tedious, joyless mess that wastes its cast.', '这部电影非常好看'];
    await page.fill('#text', `${lines[0]}\n\n  ${lines[1]}\n${lines[2]}\n`);
    await page.check('#perLine');
    await page.click('#analyze');
    await expect.poll(() => page.$$eval('#lines tbody tr', (rows) => rows.length)).toBe(3);
    const api = (await post(`${runtime.url}/v1/sentiment`, { texts: lines })).json.results as { label: string; score: number; warnings: string[] }[];
    const shown = await page.$$eval('#lines tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent)));
    expect(shown).toEqual(lines.map((text, i) => [String(i + 1), text, api[i]!.label, api[i]!.score.toFixed(4), api[i]!.warnings.join(' ')]));
    expect(shown[2]![4]).toContain('Han script');
    expect(await page.isHidden('#result')).toBe(true);
    expect(await page.textContent('#latency')).toMatch(/^answered in \d+(\.\d)? ms \(3 texts\)$/);
  });

  it('on the Chinese model: a Chinese example, lang="zh", and a warning for English', async () => {
    const chinese = await startRuntime({ model: { path: requireShared(models.chinese), name: 'chnsenticorp', quantization: 'int8' } });
    try {
      const page = await browser.newPage();
      await page.goto(chinese.url + '/');
      await expect.poll(() => page.getAttribute('#text', 'lang')).toBe('zh');
      expect(await page.getAttribute('#text', 'placeholder')).toBe('Type a sentence, e.g. 这家酒店的服务很好，房间也很干净。');
      await page.fill('#text', '房间很脏，服务员态度也很差。\nThe room was lovely.');
      await page.check('#perLine');
      await page.click('#analyze');
      await expect.poll(() => page.$$eval('#lines tbody tr', (rows) => rows.length)).toBe(2);
      const warnings = await page.$$eval('#lines tbody td.warnings', (cells) => cells.map((cell) => cell.textContent));
      expect(warnings[0]).toBe('');
      expect(warnings[1]).toContain('written in Latin script');
    } finally {
      await chinese.close();
    }
  });

  it('shows the server\'s error for input it refuses', async () => {
    const page = await browser.newPage();
    await page.goto(runtime.url + '/');
    await page.fill('#text', '   ');
    await page.click('#analyze');
    await expect.poll(() => page.textContent('#error')).toContain('text 0 is empty');
  });
});
