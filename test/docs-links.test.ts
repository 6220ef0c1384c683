// Every relative link in the repository's Markdown must lead to something in the repository: a
// reader of a clone has nothing else. Web links (public upstream projects) are allowed.
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { findBrokenLinks, findMarkdownLinks, headingAnchors, type RepositoryFiles } from './support/markdown-links.ts';

const root = new URL('..', import.meta.url).pathname;

function trackedFiles(): RepositoryFiles {
  const listing = Bun.spawnSync(['git', 'ls-files', '-z'], { cwd: root, stdout: 'pipe', stderr: 'pipe' });
  if (listing.exitCode !== 0) throw new Error(`git ls-files failed: ${listing.stderr.toString()}`);
  const paths = listing.stdout.toString().split('\0').filter((path) => path !== '');
  return { paths, read: (path) => readFileSync(root + path, 'utf8') };
}

/** A repository held in memory: path → content. */
function repositoryOf(files: Record<string, string>): RepositoryFiles {
  return { paths: Object.keys(files), read: (path) => files[path]! };
}

const problemsIn = (files: Record<string, string>) => findBrokenLinks(repositoryOf(files)).map(({ file, line, target, problem }) => ({ file, line, target, problem }));

describe('links in the documentation', () => {
  test('every relative link in every tracked Markdown file stays in the repository and points at something', () => {
    const repo = trackedFiles();
    expect(repo.paths).toContain('README.md');
    expect(findBrokenLinks(repo).map(({ file, line, target, problem }) => `${file}:${line} ${target} — ${problem}`)).toEqual([]);
  });

  test('a link out of the repository, to a missing file or to a missing heading is reported with its line', () => {
    const files = {
      'README.md': '# Title\n\nSee [spec](../shared/SPEC.md), [gone](docs/gone.md) and [api](docs/api.md#nowhere).\n',
      'docs/api.md': '# API\n\n## Auth\n\n[home](/etc/passwd) [file](file:///tmp/x)\n',
    };
    expect(problemsIn(files)).toEqual([
      { file: 'README.md', line: 3, target: '../shared/SPEC.md', problem: 'leaves the repository' },
      { file: 'README.md', line: 3, target: 'docs/gone.md', problem: 'points at nothing in the repository' },
      { file: 'README.md', line: 3, target: 'docs/api.md#nowhere', problem: 'has no heading for #nowhere' },
      { file: 'docs/api.md', line: 5, target: '/etc/passwd', problem: 'an absolute path leaves the repository' },
      { file: 'docs/api.md', line: 5, target: 'file:///tmp/x', problem: 'a non-web address leaves the repository' },
    ]);
  });

  test('links to files, folders, headings and web pages are accepted; code is not read as links', () => {
    const files = {
      'README.md': [
        '# Events Stack',
        '',
        '## Set up, run & test',
        '',
        'Read [`docs/api.md`](docs/api.md#get-events-and-post-events), [decisions](docs/decisions/),',
        '[this](#set-up-run--test), ![logo](docs/logo.png "Logo"), <a href="docs/api.md">api</a>,',
        '[upstream](https://github.com/krateoplatformops) and [ref][1]. `[not](a-link.md)`',
        '',
        '[1]: docs/decisions/001-x.md',
        '',
        '```md',
        '[also not](../outside.md)',
        '```',
      ].join('\n'),
      'docs/api.md': '# API\n\n## `GET /events` and `POST /events`\n',
      'docs/logo.png': '',
      'docs/decisions/001-x.md': '# 001\n\nBack to [the README](../../README.md#events-stack).\n',
    };
    expect(problemsIn(files)).toEqual([]);
  });

  test('repeated headings get numbered anchors, as GitHub numbers them', () => {
    expect([...headingAnchors('# Run\n## Run\n### Run A (2026)\n<a id="custom"></a>\n')]).toEqual(['run', 'run-1', 'run-a-2026', 'custom']);
  });

  test('link targets are read with their lines, without angle brackets or titles', () => {
    const links = findMarkdownLinks('a.md', 'x\n[a](<b c.md>) [d](e.md "title")\n');
    expect(links).toEqual([
      { file: 'a.md', line: 2, target: 'b c.md' },
      { file: 'a.md', line: 2, target: 'e.md' },
    ]);
  });
});
