import { posix } from 'node:path';

/** One link found in a Markdown file: where it is and what it points at, as written. */
export interface MarkdownLink {
  file: string;
  line: number;
  target: string;
}

/** A link that leaves the repository or points at nothing, with the reason. */
export interface BrokenLink extends MarkdownLink {
  problem: string;
}

/** The repository as the checker sees it: tracked file paths (relative, `/`-separated) and a reader. */
export interface RepositoryFiles {
  paths: readonly string[];
  read(path: string): string;
}

const inlineLink = /!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
const referenceDefinition = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/;
const htmlReference = /<(?:a|img|source)\s[^>]*?(?:href|src)\s*=\s*"([^"]*)"/gi;
const fence = /^ {0,3}(`{3,}|~{3,})/;

/** The lines of `markdown` outside fenced code blocks (fence lines excluded), with 1-based numbers. */
function* linesOutsideFences(markdown: string): Generator<{ text: string; number: number }> {
  let openFence: string | undefined;
  const lines = markdown.split('\n');
  for (const [index, text] of lines.entries()) {
    const fenceMatch = fence.exec(text);
    if (openFence !== undefined) {
      if (fenceMatch && fenceMatch[1]!.startsWith(openFence)) openFence = undefined;
    } else if (fenceMatch) {
      openFence = fenceMatch[1]!;
    } else {
      yield { text, number: index + 1 };
    }
  }
}

/**
 * Every link target written in `markdown` (inline links and images, reference definitions, HTML
 * `href`/`src`), with its 1-based line. Text inside fenced code blocks and code spans is not a
 * link, so it is skipped.
 */
export function findMarkdownLinks(file: string, markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  for (const { text, number } of linesOutsideFences(markdown)) {
    // Blank out code spans but keep their backticks, so `[`x`](y)` still reads as a link.
    const line = text.replace(/(`+)([^`]|[^`].*?[^`])\1(?!`)/g, (span, ticks: string) => ticks + ' '.repeat(span.length - 2 * ticks.length) + ticks);
    const add = (target: string) => links.push({ file, line: number, target: target.replace(/^<(.*)>$/, '$1') });
    for (const match of line.matchAll(inlineLink)) add(match[1]!);
    for (const match of line.matchAll(htmlReference)) add(match[1]!);
    const definition = referenceDefinition.exec(line);
    if (definition) add(definition[1]!);
  }
  return links;
}

/**
 * The anchors GitHub gives the headings of `markdown`: lower case, punctuation other than `-` and
 * `_` removed, each space a `-`, and `-1`, `-2`… on repeats; plus explicit `<a id|name="…">`.
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text: line } of linesOutsideFences(markdown)) {
    for (const match of line.matchAll(/<a\s[^>]*?(?:id|name)\s*=\s*"([^"]+)"/gi)) anchors.add(match[1]!);
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '');
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
    const repeat = seen.get(base) ?? 0;
    seen.set(base, repeat + 1);
    anchors.add(repeat === 0 ? base : `${base}-${repeat}`);
  }
  return anchors;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The problem with one link, or undefined when it stays in the repository and its target exists. */
function checkLink(link: MarkdownLink, files: Set<string>, folders: Set<string>, repo: RepositoryFiles): string | undefined {
  const { target } = link;
  if (/^(https?|mailto):/i.test(target)) return undefined; // public upstream pages are allowed
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return 'a non-web address leaves the repository';
  if (target.startsWith('/')) return 'an absolute path leaves the repository';
  const hash = target.indexOf('#');
  const pathPart = decode(hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
  const anchor = hash < 0 ? undefined : decode(target.slice(hash + 1));
  const resolved = pathPart === '' ? link.file : posix.normalize(posix.join(posix.dirname(link.file), pathPart));
  if (resolved === '..' || resolved.startsWith('../')) return 'leaves the repository';
  const path = resolved.replace(/\/$/, '');
  if (!files.has(path) && !folders.has(path)) return 'points at nothing in the repository';
  if (anchor === undefined || anchor === '' || !path.endsWith('.md') || !files.has(path)) return undefined;
  return headingAnchors(repo.read(path)).has(anchor) ? undefined : `has no heading for #${anchor}`;
}

/**
 * Every link in the repository's `*.md` files that leaves the repository (a parent-folder or
 * absolute path, a non-web scheme) or points at no file, folder or heading in it. Web links are
 * allowed; anchors are checked for Markdown targets only.
 */
export function findBrokenLinks(repo: RepositoryFiles): BrokenLink[] {
  const files = new Set(repo.paths);
  const folders = new Set(['.']);
  for (const path of repo.paths) {
    for (let dir = posix.dirname(path); dir !== '.'; dir = posix.dirname(dir)) folders.add(dir);
  }
  const broken: BrokenLink[] = [];
  for (const file of repo.paths.filter((path) => path.endsWith('.md'))) {
    for (const link of findMarkdownLinks(file, repo.read(file))) {
      const problem = checkLink(link, files, folders, repo);
      if (problem !== undefined) broken.push({ ...link, problem });
    }
  }
  return broken;
}
