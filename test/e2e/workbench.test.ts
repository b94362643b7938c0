// The workbench end to end: `ferry serve` (the real command), Debian's Chromium, the built-in
// sandbox. Build a job, plan it, see the big keys, run it to 100 % with the latency chart moving,
// verify it equal; run a job live and cut it over. A screenshot of every screen goes to
// test-results/screenshots/.
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, SCREENSHOT_DIR } from '../support/browser.js';
import { spawnFerry, tmpDir } from '../support/cli.js';
import { startRedis } from '../support/redisServers.js';

let serve: ChildProcess;
let url: string;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
const workDir = tmpDir('ferry-e2e-');

/** Starts `ferry serve` and reads the URL (with its token) from its first line. */
async function startServe(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnFerry(['serve', '--port', '0', '--work-dir', workDir]);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const found = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ferry serve printed no URL within 90 s\nstdout: ${out}\nstderr: ${err}`)), 90_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ferry serve exited (${code})\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  return { child, url: found };
}

async function shot(name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}

const byTestId = (id: string) => page.getByTestId(id);

beforeAll(async () => {
  ({ child: serve, url } = await startServe());
  browser = await launchBrowser();
  page = await browser.context.newPage();
}, 120_000);

afterAll(async () => {
  // Stop the sandbox through the UI's own call path is not needed: ferry serve stops it on SIGTERM.
  await browser?.close();
  if (serve && serve.exitCode === null) {
    const exited = new Promise((r) => serve.once('exit', r));
    serve.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(workDir, { recursive: true, force: true });
}, 60_000);

describe('the workbench in a browser', () => {
  it('refuses the page without the token', async () => {
    const res = await fetch(url.replace(/\?token=.*/, ''));
    expect(res.status).toBe(403);
  });

  it('builds a job on the sandbox, plans, runs to 100 %, verifies equal', async () => {
    await page.goto(url);
    await byTestId('nav-job').waitFor();
    await shot('01-job-empty');

    // The Sandbox button starts local servers and fills the job.
    await byTestId('sandbox-button').click();
    await expect.poll(async () => (await byTestId('job-yaml').inputValue()).includes('name: sandbox'), { timeout: 120_000 }).toBe(true);
    // Built further by hand: a rate limit, so the run lasts long enough to watch (a few seconds).
    const yaml = await byTestId('job-yaml').inputValue();
    await byTestId('job-yaml').fill(yaml.replace('  parallel: 3', '  parallel: 3\n  maxKeysPerSec: 30000'));
    await byTestId('job-validate').click();
    await expect.poll(async () => await byTestId('job-problems').getAttribute('data-count'), { timeout: 20_000 }).toBe('0');
    await byTestId('endpoint-test-target').click();
    await expect.poll(async () => await byTestId('endpoint-facts-target').getAttribute('data-reachable'), { timeout: 30_000 }).toBe('true');
    // The target's latency, live: a point a second.
    await byTestId('endpoint-watch-target').click();
    await expect.poll(async () => Number(await byTestId('endpoint-latency-target').getAttribute('data-seconds')), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    await byTestId('endpoint-latency-target').scrollIntoViewIfNeeded();
    await shot('02-job-sandbox');
    await byTestId('endpoint-watch-target').click();
    await byTestId('endpoint-latency-target').waitFor({ state: 'detached', timeout: 10_000 });

    // Plan: verdicts and the big keys (the sandbox job sets bigKey to 1 MB and holds multi-MB keys).
    await byTestId('nav-plan').click();
    await byTestId('plan-start').click();
    await byTestId('plan-verdicts').waitFor({ timeout: 120_000 });
    await shot('03-plan-top');
    await byTestId('plan-bigkeys').scrollIntoViewIfNeeded();
    await expect.poll(async () => await page.getByTestId('bigkey-row').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await shot('03-plan');

    // Thousands of big keys (every key of 5 elements or more): the table stays a few dozen rows in
    // the page, and scrolling brings the last ones in.
    const sandboxYaml = await (async () => {
      await byTestId('nav-job').click();
      return byTestId('job-yaml').inputValue();
    })();
    await byTestId('job-yaml').fill(sandboxYaml.replace('bigKey: { bytes: 1mb }', 'bigKey: { bytes: 1mb, elements: 5 }'));
    await byTestId('nav-plan').click();
    await byTestId('plan-start').click();
    await expect.poll(async () => Number(await byTestId('plan-bigkeys').getAttribute('data-rows')), { timeout: 120_000 }).toBeGreaterThan(5000);
    const inPage = await page.getByTestId('bigkey-row').count();
    expect(inPage).toBeGreaterThan(0);
    expect(inPage).toBeLessThan(60);
    await page.locator('[data-testid="plan-bigkeys"] .viewport').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await expect.poll(async () => Number(await page.getByTestId('bigkey-row').last().getAttribute('aria-rowindex'))).toBe(Number(await byTestId('plan-bigkeys').getAttribute('data-rows')) + 1);
    await byTestId('plan-bigkeys').scrollIntoViewIfNeeded();
    await shot('03-plan-many-big-keys');
    await byTestId('nav-job').click();
    await byTestId('job-yaml').fill(sandboxYaml);

    // Run: every source row reaches 100 %, the latency chart keeps drawing seconds.
    await byTestId('nav-run').click();
    await byTestId('run-start').click();
    const chartSeconds = async () => Number(await page.locator('[data-testid="latency-chart"][data-endpoint="target"]').getAttribute('data-seconds'));
    await expect.poll(chartSeconds, { timeout: 60_000 }).toBeGreaterThanOrEqual(1);
    const firstSeconds = await chartSeconds();
    await shot('04-run-progress');
    await expect.poll(async () => await byTestId('run-outcome').getAttribute('data-outcome'), { timeout: 180_000 }).toBe('done');
    const rows = page.locator('[data-testid^="run-row-"]');
    const count = await rows.count();
    expect(count).toBe(3);
    for (let i = 0; i < count; i++) expect(await rows.nth(i).getAttribute('data-progress')).toBe('100');
    // The sandbox's three big keys went in windows, each shown to its end.
    const bigKeyRows = page.getByTestId('bigkey-progress-row');
    expect(await bigKeyRows.count()).toBe(3);
    for (let i = 0; i < 3; i++) expect(await bigKeyRows.nth(i).getAttribute('data-progress')).toBe('100');
    // The chart went on drawing while the run went on (one point per second per endpoint).
    await expect.poll(chartSeconds, { timeout: 30_000 }).toBeGreaterThan(firstSeconds);
    await shot('05-run-done');

    // Verify: nothing differs.
    await byTestId('nav-verify').click();
    await byTestId('verify-start').click();
    await expect.poll(async () => await byTestId('verify-summary').getAttribute('data-differences'), { timeout: 180_000 }).toBe('0');
    await shot('06-verify');

    // The other theme, on the plan screen.
    const before = await page.locator('html').getAttribute('data-theme');
    await byTestId('theme-toggle').click();
    await expect.poll(async () => await page.locator('html').getAttribute('data-theme')).not.toBe(before);
    await byTestId('nav-plan').click();
    await shot(`07-plan-${await page.locator('html').getAttribute('data-theme')}`);
    expect(fs.readdirSync(SCREENSHOT_DIR).filter((f) => f.endsWith('.png')).length).toBeGreaterThanOrEqual(7);
  }, 600_000);
});

// In the same file as the sandbox's test: one `ferry serve` (and one build of the UI) for both.
describe('live sync in a browser', () => {
  it('runs a job live, shows the node caught up, follows writes, cuts over: Safe to switch', async () => {
    const [source, target] = await Promise.all([startRedis({ args: ['--repl-diskless-sync-delay', '0'] }), startRedis()]);
    const livePage = await browser.context.newPage();
    const el = (id: string) => livePage.getByTestId(id);
    try {
      for (let i = 0; i < 500; i++) await source.cli('SET', `before:${i}`, `b${i}`);
      await livePage.goto(url);
      await el('nav-job').click();
      await el('job-yaml').fill(`name: live-e2e\nsources:\n  - { name: app, url: "${source.url}" }\ntarget: { url: "${target.url}" }\n`);
      await el('job-validate').click();
      await expect.poll(async () => await el('job-problems').getAttribute('data-count'), { timeout: 20_000 }).toBe('0');

      await el('nav-run').click();
      await el('run-start-live').click();
      const node = livePage.locator('[data-testid="live-node"][data-source="app"]');
      await expect.poll(async () => await node.getAttribute('data-caught-up'), { timeout: 60_000 }).toBe('true');
      expect(await node.getAttribute('data-phase')).toBe('streaming');
      expect(await node.getByTestId('live-caught-up').textContent()).toBe('caught up');
      expect(await el('run-status').getAttribute('data-live')).toBe('true');

      // The application writes while Ferry follows: the commands are applied on the target.
      for (let i = 0; i < 100; i++) await source.cli('SET', `during:${i}`, `d${i}`);
      await source.cli('DEL', 'before:7');
      await expect.poll(async () => Number(await node.getAttribute('data-applied')), { timeout: 30_000 }).toBeGreaterThanOrEqual(101);

      await el('run-cutover').click();
      await expect.poll(async () => await el('cutover-state').getAttribute('data-state'), { timeout: 10_000 }).toMatch(/waiting|verifying|safe/);
      await expect.poll(async () => await el('cutover-verdict').getAttribute('data-safe'), { timeout: 90_000 }).toBe('true');
      expect(await el('cutover-verdict').textContent()).toContain('Safe to switch');
      expect(await el('cutover-counts').getAttribute('data-compared')).toBe('599');
      expect(await el('cutover-counts').getAttribute('data-differences')).toBe('0');
      expect(await target.cli('GET', 'during:99')).toBe('d99');
      expect(await target.cli('EXISTS', 'before:7')).toBe('0');
      expect(Number(await target.cli('DBSIZE'))).toBe(599);
      await el('cutover-panel').scrollIntoViewIfNeeded();
      fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await livePage.screenshot({ path: path.join(SCREENSHOT_DIR, '08-run-live-cutover.png'), fullPage: true });

      // Switched: live sync is stopped from the page.
      await el('run-cancel').click();
      await expect.poll(async () => await el('run-status').getAttribute('data-status'), { timeout: 30_000 }).toBe('stopped');
    } finally {
      await livePage.close();
      await Promise.all([source.stop(), target.stop()]);
    }
  }, 300_000);
});
