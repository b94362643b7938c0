// Debian's Chromium driven by playwright-core (its own browser download is not possible here).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.FERRY_CHROMIUM || '/usr/bin/chromium';

/** Where the end-to-end tests leave their screenshots (one per screen). */
export const SCREENSHOT_DIR = path.resolve('test-results', 'screenshots');

/** A fresh headless Chromium profile; the flags keep it off the (closed) network. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}; install it with: sudo apt-get install -y chromium (or set FERRY_CHROMIUM)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
