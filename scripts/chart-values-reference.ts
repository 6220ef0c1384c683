import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The repository root (this file lives in scripts/). */
const projectRoot = resolve(dirname(import.meta.path), '..');

/** The charts documented, in order. */
export const chartNames = ['events-ingester', 'events-presenter'] as const;

/** Where the generated reference is written. */
export const referencePath = join(projectRoot, 'docs', 'chart-values.md');

/** One documented value: dotted key, default (as compact JSON) and the `# --` description. */
interface ValueRow {
  key: string;
  defaultJson: string;
  description: string;
}

/** Each key line's dotted path and the `# --` comment block just above it (helm-docs style). */
function describedKeys(text: string): Map<string, string> {
  const described = new Map<string, string>();
  const stack: { indent: number; key: string }[] = [];
  let comment: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('# -- ')) comment = [trimmed.slice(5)];
    else if (trimmed.startsWith('#') && comment.length > 0) comment.push(trimmed.replace(/^#\s?/, ''));
    const match = /^(\s*)([A-Za-z_][\w.-]*):(\s|$)/.exec(line);
    if (match) {
      const indent = match[1]!.length;
      while (stack.length > 0 && stack.at(-1)!.indent >= indent) stack.pop();
      stack.push({ indent, key: match[2]! });
      if (comment.length > 0) described.set(stack.map((s) => s.key).join('.'), comment.join(' '));
      comment = [];
    } else if (!trimmed.startsWith('#')) comment = [];
  }
  return described;
}

const isMap = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Rows for `value` at `path`: one row, or one per child when a child carries its own description. */
function rowsOf(path: string, value: unknown, described: Map<string, string>): ValueRow[] {
  const childDescribed = isMap(value) && Object.keys(value).some((k) => [...described.keys()].some((d) => d === `${path}.${k}` || d.startsWith(`${path}.${k}.`)));
  if (isMap(value) && (childDescribed || !described.has(path)) && Object.keys(value).length > 0) {
    const own = described.has(path) ? [{ key: path, defaultJson: '', description: described.get(path)! }] : [];
    return [...own, ...Object.entries(value).flatMap(([k, v]) => rowsOf(`${path}.${k}`, v, described))];
  }
  return [{ key: path, defaultJson: JSON.stringify(value), description: described.get(path) ?? '' }];
}

/** The Markdown table of one chart's values.yaml. */
export function renderChartValues(chart: string): string {
  const text = readFileSync(join(projectRoot, 'charts', chart, 'values.yaml'), 'utf8');
  const values = Bun.YAML.parse(text) as Record<string, unknown>;
  const described = describedKeys(text);
  const rows = Object.entries(values).flatMap(([key, value]) => rowsOf(key, value, described));
  const cell = (text: string) => text.replaceAll('|', '\\|');
  return [
    `## ${chart}`,
    '',
    '| Key | Default | Description |',
    '|---|---|---|',
    ...rows.map((r) => `| \`${r.key}\` | ${r.defaultJson === '' ? '' : `\`${cell(r.defaultJson)}\``} | ${cell(r.description)} |`),
    '',
  ].join('\n');
}

/** The whole reference document, generated from the charts' values.yaml files. */
export function renderValuesReference(): string {
  return [
    '# Helm chart values',
    '',
    'Generated from `charts/*/values.yaml` by `bun scripts/chart-values-reference.ts`; a test keeps it',
    'equal. Keys under `config` become environment variables one to one (README, "Configuration").',
    '',
    ...chartNames.map(renderChartValues),
  ].join('\n');
}

if (import.meta.main) {
  writeFileSync(referencePath, renderValuesReference());
  console.log(`wrote ${referencePath}`);
}
