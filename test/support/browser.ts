// A real Chromium, shipped in an npm package (@sparticuz/chromium) and driven by playwright-core:
// `bun install` is the whole set-up. Launch failures throw: browser tests fail, never skip.
import chromium from '@sparticuz/chromium';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium as playwright, type Browser, type Page } from 'playwright-core';

/** Where tests save screenshots of the console's views (ignored by git). */
export const screenshotDir = join(new URL('../..', import.meta.url).pathname, '.artifacts', 'console');

/** Launches headless Chromium; `await using` closes it. */
export async function launchBrowser(): Promise<Browser & AsyncDisposable> {
  const executablePath = await chromium.executablePath();
  // The sandbox needs user namespaces a container or root often lacks; the pages tested are our own.
  // The package's `--single-process` (meant for AWS Lambda) is dropped: with it, closing a context
  // closes the browser, and renderers in their own processes are what a desktop browser measures.
  const args = [...chromium.args.filter((arg) => arg !== '--single-process'), '--no-sandbox'];
  const browser = await playwright.launch({ executablePath, args, headless: true });
  return Object.assign(browser, { [Symbol.asyncDispose]: () => browser.close() });
}

/** Opens the console signed in as the token's user (the `#token=` link `bun run dev` prints). */
export async function openConsole(browser: Browser, baseUrl: string, token: string, options: { query?: string; width?: number; dark?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: 800 },
    colorScheme: options.dark ? 'dark' : 'light',
  });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/ui${options.query ? `?${options.query}` : ''}#token=${token}`);
  await page.locator('#app').waitFor({ state: 'visible' });
  return page;
}

/** Saves a screenshot of the page as `<name>.png` in the screenshot folder. */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
}
