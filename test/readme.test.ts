import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { ingesterSettings, presenterSettings, type Setting } from '../lib/runtime/config.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The rows of the README table between `<!-- config:NAME -->` markers, as [name, default]. */
function documentedSettings(service: string): string[][] {
  const start = readme.indexOf(`<!-- config:${service} -->`);
  const end = readme.indexOf(`<!-- /config:${service} -->`);
  if (start < 0 || end < start) throw new Error(`README has no config table for ${service}`);
  return readme
    .slice(start, end)
    .split('\n')
    .filter((line) => /^\| `/.test(line))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      return [cells[1]!.replaceAll('`', ''), cells[3]!.replaceAll('`', '')];
    });
}

const fromCode = (settings: Setting[]) => settings.map((s) => [s.name, s.default]);

describe('README', () => {
  test('the ingester configuration table lists exactly the settings and defaults in lib/runtime/config.ts', () => {
    expect(documentedSettings('ingester')).toEqual(fromCode(ingesterSettings));
  });

  test('the presenter configuration table lists exactly the settings and defaults in lib/runtime/config.ts', () => {
    expect(documentedSettings('presenter')).toEqual(fromCode(presenterSettings));
  });

  test('the seed\'s variables keep their names and defaults', () => {
    const defaults = (settings: Setting[]) => Object.fromEntries(settings.map((s) => [s.name, s.default]));
    const ingester = defaults(ingesterSettings);
    const presenter = defaults(presenterSettings);
    expect([ingester.PORT, ingester.DB_PORT, ingester.DB_READY_TIMEOUT, ingester.OTEL_ENABLED, ingester.OTEL_EXPORT_INTERVAL]).toEqual(['8080', '5432', '2m', 'false', '50s']);
    expect([presenter.PORT, presenter.DB_HOST, presenter.DEBUG, presenter.OTEL_ENABLED, presenter.OTEL_EXPORT_INTERVAL]).toEqual(['8083', 'localhost', 'false', 'true', '30s']);
    for (const name of ['DB_NAME', 'DB_USER', 'DB_PASS', 'DB_PARAMS']) expect([ingester[name], presenter[name]]).toEqual(['—', '—']);
    expect([presenter.JWT_SIGN_KEY, presenter.AUTHN_NS, ingester.NAMESPACES]).toEqual(['—', '—', 'all (if empty)']);
  });

  test('the docs recommend sslmode=verify-full and never a mode that verifies no certificate', () => {
    // postgres.js accepts any server certificate under require, prefer and allow.
    const docs = ['../README.md', '../docs/deploy.md', '../docs/api.md'].map((path) => readFileSync(new URL(path, import.meta.url), 'utf8'));
    const unverified = docs.flatMap((text) => text.match(/sslmode=(require|prefer|allow)\b/g) ?? []);
    expect({ unverified, recommended: docs[1]!.includes('DB_PARAMS=sslmode=verify-full') }).toEqual({ unverified: [], recommended: true });
  });

  test('the README starts with one command that runs the stack and one that runs the tests, the one CI runs', () => {
    const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    const commands = firstBlock.split('\n').filter((line) => line !== '').map((line) => line.replace(/\s+#.*$/, ''));
    expect(commands).toEqual([`npx --yes bun@${pkg.devDependencies.bun} run dev`, `npx --yes bun@${pkg.devDependencies.bun} run test`]);
    expect(ci).toContain(`\n${commands[1]} 2>&1 | tee`);
    expect(ci).not.toContain('npm install -g');
    // Each command sets the project up first. The per-test timeout is on the command line because
    // Bun 1.4.5 applies a preload's default timeout to the first test file only.
    expect([pkg.scripts.dev, pkg.scripts.test]).toEqual(['bun install --frozen-lockfile && bun run dev/stack.ts', 'bun install --frozen-lockfile && bun test --timeout 30000']);
  });
});
