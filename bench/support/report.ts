// Shared helpers: flags, percentiles, CPU sampling, and the result rows every benchmark prints.
import { cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

/** One line of the results table. `higherIsBetter` decides how the ratio and target are read. */
export interface ResultRow {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  baselineName?: string;
  /** value / baseline. */
  ratio?: number;
  target?: string;
  met?: boolean;
  note?: string;
}

/** `--name value` / `--name=value` / `--flag` from argv. */
export function flag(name: string): string | undefined;
export function flag(name: string, fallback: string): string;
export function flag(name: string, fallback?: string): string | undefined {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === `--${name}`) {
      const next = argv[i + 1];
      return next === undefined || next.startsWith('--') ? 'true' : next;
    }
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return fallback;
}

export function numberFlag(name: string, fallback: number): number {
  const value = flag(name);
  if (value === undefined) return fallback;
  const n = Number(value.replaceAll('_', '').replace(/k$/i, '000').replace(/m$/i, '000000'));
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${value}`);
  return n;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    n: sorted.length,
    mean: sum / Math.max(1, sorted.length),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** CPU time (user+sys, seconds) of a process from /proc, summed over its threads. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return Number.NaN;
  }
}

/** Resident set size (bytes) of a process from /proc. */
export function processRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Total CPU seconds of every process whose command line contains `needle` (e.g. postgres backends). */
export function cpuSecondsOfPids(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) || 0), 0);
}

/** PIDs of the children of `parent` (one level), from /proc. */
export function childPids(parent: number): number[] {
  try {
    const text = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim();
    return text ? text.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

/** The whole machine's busy CPU seconds (all cores) from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
}

export function machineInfo() {
  return { nproc: cpus().length, memory_gb: +(totalmem() / 2 ** 30).toFixed(1), bun: Bun.version };
}

const fmt = (v: number | null | undefined) =>
  v === undefined || v === null || Number.isNaN(v) ? '' : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : String(+v.toFixed(2));

/** Prints the rows as a table, then one machine-readable line for bench/run.ts. */
export function printResults(rows: ResultRow[], extra: Record<string, unknown> = {}): void {
  const header = ['bench', 'metric', 'value', 'unit', 'baseline', 'ratio', 'target', 'met'];
  const lines = rows.map((r) => [
    r.bench,
    r.metric,
    fmt(r.value),
    r.unit,
    r.baseline === undefined ? '' : `${fmt(r.baseline)}${r.baselineName ? ` (${r.baselineName})` : ''}`,
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(row(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(row(l));
  for (const r of rows) if (r.note) console.log(`  note (${r.bench} ${r.metric}): ${r.note}`);
  console.log(`BENCH_JSON ${JSON.stringify({ ...extra, rows })}`);
}

export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
