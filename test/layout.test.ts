// The architecture as the folders show it: imports run entries → service folders → storage and
// kube → runtime, never between the two services, with no cycles; functions stay small.
import { describe, expect, test } from 'bun:test';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findImportCycles, findLayoutViolations, listSourceFiles, measureFunctions, readImports } from './support/code-shape.ts';

const root = join(import.meta.dir, '..');
const base = ['lib/runtime'];
const shared = ['lib/storage', 'lib/kube', ...base];
/** Folder → the other folders its files may import (see lib/README.md). */
const layout: Record<string, string[]> = {
  // `console/` holds the Events console page the presenter entry imports (Bun's HTML bundle).
  '.': ['lib/ingest', 'lib/presenter', 'lib/presenter/access', 'console', ...shared],
  'lib/runtime': [],
  'lib/storage': base,
  'lib/kube': base,
  'lib/ingest': shared,
  'lib/presenter': ['lib/presenter/sse', 'lib/presenter/access', 'lib/presenter/core', ...shared],
  'lib/presenter/sse': ['lib/presenter/access', 'lib/presenter/core', ...shared],
  'lib/presenter/access': ['lib/presenter/core', ...shared],
  'lib/presenter/core': shared,
};
/** Entry file → the service folders it must not import. */
const entries: Record<string, string[]> = {
  'ingester.ts': ['lib/presenter'],
  'presenter.ts': ['lib/ingest'],
  'migrate.ts': ['lib/ingest', 'lib/presenter'],
  'import-legacy.ts': ['lib/ingest', 'lib/presenter'],
  'events-stack.ts': ['lib/ingest', 'lib/presenter'],
};

function importGraph(files: string[]): Map<string, string[]> {
  return new Map(files.map((file) => [file, readImports(root, file)]));
}

describe('layout', () => {
  test('every import in lib/ and the entry files follows the folder rules', () => {
    const graph = importGraph([...Object.keys(entries), ...listSourceFiles(root, 'lib')]);
    expect(findLayoutViolations(graph, layout)).toEqual([]);
  });

  test('an entry file imports nothing of the other service, and every entry file has a rule', () => {
    const crossing = Object.entries(entries).flatMap(([entry, others]) =>
      readImports(root, entry).filter((target) => others.some((other) => target.startsWith(`${other}/`))).map((target) => `${entry} → ${target}`),
    );
    expect(crossing).toEqual([]);
    const topLevel = readdirSync(root).filter((name) => name.endsWith('.ts') && name !== 'drizzle.config.ts');
    expect(topLevel.sort()).toEqual(Object.keys(entries).sort());
  });

  test('the rules catch an import that runs the wrong way, out of lib/, or from an unplaced folder', () => {
    const graph = new Map([
      ['lib/storage/db.ts', ['lib/runtime/log.ts', 'lib/ingest/leader.ts']],
      ['lib/ingest/leader.ts', ['dev/simulator/index.ts']],
      ['lib/extra/new.ts', []],
    ]);
    expect(findLayoutViolations(graph, layout)).toEqual([
      { from: 'lib/storage/db.ts', to: 'lib/ingest/leader.ts', rule: 'lib/storage may import only lib/runtime' },
      { from: 'lib/ingest/leader.ts', to: 'dev/simulator/index.ts', rule: 'lib/ingest may import only lib/storage, lib/kube, lib/runtime' },
      { from: 'lib/extra/new.ts', to: 'lib/extra', rule: 'a folder without a layout rule' },
    ]);
  });

  test('no two files of lib/ import each other, directly or around a cycle', () => {
    expect(findImportCycles(importGraph(listSourceFiles(root, 'lib')))).toEqual([]);
    expect(findImportCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
  });

  test('lib/ holds folders, each with a README saying what it owns and may import, and at most 10 files at its top', () => {
    const top = readdirSync(join(root, 'lib'), { withFileTypes: true });
    expect(top.filter((entry) => entry.isFile()).length).toBeLessThanOrEqual(10);
    const folders = Object.keys(layout).filter((folder) => folder !== '.');
    expect(folders.filter((folder) => !existsSync(join(root, folder, 'README.md')))).toEqual([]);
    const onDisk = listSourceFiles(root, 'lib').map((file) => file.slice(0, file.lastIndexOf('/')));
    expect([...new Set(onDisk)].sort()).toEqual(folders.sort());
  });

  test('no function in lib/ has more than 60 lines of its own or 150 with the functions nested in it', () => {
    const sizes = listSourceFiles(root, 'lib').flatMap((file) => measureFunctions(root, file));
    const tooLong = sizes.filter((size) => size.ownLines > 60 || size.totalLines > 150);
    expect(tooLong).toEqual([]);
    // The measure itself: a nested function's lines count for it, not for the one around it.
    const start = sizes.find((size) => size.file === 'lib/ingest/ingester.ts' && size.name === 'startIngester');
    expect(start!.ownLines).toBeLessThan(start!.totalLines);
  });
});
