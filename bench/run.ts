// Runs every benchmark, one after the other (each in its own process, so none inherits another's
// memory or open sockets), and prints one table. Extra flags go to every benchmark that knows them;
// `--only insert,ingest` picks some. `--quick` uses small sizes (a smoke run of a few minutes).
// Usage: bun run bench [--quick] [--only insert,ingest,ingest-latency,simulator,relist,query,growth,sse,pg-restart,history-pressure,mixed,console]
import { join } from 'node:path';
import { flag, machineInfo, printResults, type ResultRow } from './support/report.ts';

const quick = flag('quick') !== undefined;
const only = flag('only')?.split(',');
const benches: { name: string; file: string; args: string[]; quickArgs: string[] }[] = [
  { name: 'insert', file: 'insert.ts', args: ['--events', '100000', '--rounds', '1'], quickArgs: ['--events', '20000', '--rounds', '1'] },
  { name: 'ingest', file: 'ingest.ts', args: ['--events', '200000'], quickArgs: ['--events', '30000'] },
  { name: 'ingest-latency', file: 'ingest-latency.ts', args: [], quickArgs: ['--seconds', '4', '--warmup', '2'] },
  { name: 'simulator', file: 'simulator.ts', args: ['--events', '100000'], quickArgs: ['--events', '20000', '--rounds', '1'] },
  { name: 'relist', file: 'relist.ts', args: ['--events', '100000'], quickArgs: ['--events', '20000'] },
  { name: 'query', file: 'query.ts', args: ['--rows', '1000000'], quickArgs: ['--rows', '100000', '--iterations', '50'] },
  { name: 'growth', file: 'growth.ts', args: [], quickArgs: ['--sizes', '0,100000', '--probe', '10000', '--iterations', '30'] },
  { name: 'sse', file: 'sse.ts', args: [], quickArgs: ['--latency-clients', '200', '--rate', '500', '--seconds', '8', '--clients', '2000', '--fanout-events', '20'] },
  { name: 'pg-restart', file: 'pg-restart.ts', args: [], quickArgs: ['--rate', '500', '--clients', '50', '--warmup', '3', '--baseline', '4', '--down', '2', '--after', '5'] },
  { name: 'history-pressure', file: 'history-pressure.ts', args: [], quickArgs: ['--rows', '300000', '--seconds', '8', '--quiet', '8'] },
  { name: 'mixed', file: 'mixed.ts', args: [], quickArgs: ['--clients', '1000', '--users', '100', '--namespaces', '100', '--warmup', '10', '--seconds', '10'] },
  { name: 'console', file: 'console.ts', args: [], quickArgs: ['--rows', '2000', '--seconds', '5', '--loads', '2'] },
];

const all: ResultRow[] = [];
const meta: Record<string, unknown> = {};
for (const bench of benches) {
  if (only && !only.includes(bench.name)) continue;
  const started = performance.now();
  process.stderr.write(`\n=== ${bench.name} ===\n`);
  const child = Bun.spawn(['bun', join(import.meta.dir, bench.file), ...(quick ? bench.quickArgs : bench.args)], {
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const out = await new Response(child.stdout).text();
  const code = await child.exited;
  process.stderr.write(out.split('\n').filter((l) => !l.startsWith('BENCH_JSON')).join('\n'));
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (code !== 0 || !line) {
    all.push({ bench: bench.name, metric: `FAILED (exit ${code})`, value: Number.NaN, unit: '' });
    continue;
  }
  const parsed = JSON.parse(line.slice('BENCH_JSON '.length)) as { rows: ResultRow[]; postgres?: string };
  all.push(...parsed.rows);
  meta[bench.name] = { seconds: Math.round((performance.now() - started) / 1000) };
  meta.postgres ??= parsed.postgres;
}
process.stderr.write('\n=== all benchmarks ===\n');
printResults(all, { machine: machineInfo(), ...meta });
