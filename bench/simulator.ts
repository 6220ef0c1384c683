// Simulator cost per served watch event: the simulator (this process) stores `--events` Event
// versions while one watch (the ingester's own watch code, bench/support/watch-drain.ts, in a
// subprocess) reads them; reported: this process's CPU µs per event. The events are generated
// before the clock starts, so the generator's own cost is not counted. Same-run baseline: another
// copy of the simulator (`--baseline-dir`, e.g. the previous commit's dev/simulator extracted with
// `git archive`), run alternately with the current one, `--rounds` times each.
// Usage: bun bench/simulator.ts [--events 50000] [--rounds 2] [--plain-http] [--baseline-dir DIR]
//   e.g. mkdir -p /tmp/sim-before && git archive HEAD~1 dev/simulator | tar -x -C /tmp/sim-before
//        bun bench/simulator.ts --baseline-dir /tmp/sim-before/dev/simulator
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Simulator, SimulatorOptions } from '../dev/simulator/index.ts';
import { createEventGenerator } from './support/events.ts';
import { flag, log, machineInfo, numberFlag, printResults, processCpuSeconds, type ResultRow } from './support/report.ts';

const total = numberFlag('events', 50_000);
const rounds = numberFlag('rounds', 2);
const tls = flag('plain-http') === undefined;
const baselineDir = flag('baseline-dir');

type Start = (options: SimulatorOptions) => Promise<Simulator>;
const load = async (dir: string): Promise<Start> => ((await import(join(resolve(dir), 'index.ts'))) as { startSimulator: Start }).startSimulator;

/** One run: returns this process's CPU µs per event and the wall-clock events/s. */
async function run(startSimulator: Start, seed: number): Promise<{ cpuUs: number; rate: number }> {
  const generator = createEventGenerator({ seed });
  const versions = Array.from({ length: total }, () => generator.next());
  const sim = await startSimulator({ tls, bookmarkEveryMs: 1000 });
  for (const object of generator.objects) {
    sim.setObject({ apiVersion: object.apiVersion, kind: object.kind, metadata: { namespace: object.namespace, name: object.name, uid: object.uid, labels: object.labels } });
  }
  const dir = mkdtempSync(join(tmpdir(), 'events-bench-sim-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, await sim.adminKubeconfig());
  const child = Bun.spawn(['bun', join(import.meta.dir, 'support', 'watch-drain.ts'), kubeconfigPath, String(total)], { stdout: 'pipe', stderr: 'inherit' });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const readUntil = async (marker: string) => {
    while (!text.includes(marker)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`watch drain exited before ${marker}`);
      text += decoder.decode(value);
    }
  };
  await readUntil('ESTABLISHED');
  const done = readUntil('"count"');
  const cpu0 = processCpuSeconds(process.pid);
  const started = performance.now();
  for (let i = 0; i < total; ) {
    const end = Math.min(total, i + 250);
    for (; i < end; i++) {
      const { event, update } = versions[i]!;
      if (update) sim.updateEvent(event as never);
      else sim.createEvent(event as never);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  const cpu = processCpuSeconds(process.pid) - cpu0;
  await child.exited;
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
  return { cpuUs: (cpu / total) * 1e6, rate: total / seconds };
}

const current = await load(join(import.meta.dir, '..', 'dev', 'simulator'));
const baseline = baselineDir ? await load(baselineDir) : undefined;
const samples: Record<'current' | 'baseline', { cpuUs: number; rate: number }[]> = { current: [], baseline: [] };
for (let round = 0; round < rounds; round++) {
  if (baseline) {
    const r = await run(baseline, 11 + round);
    samples.baseline.push(r);
    log(`baseline round ${round + 1}: ${r.cpuUs.toFixed(1)} µs CPU/event, ${Math.round(r.rate)} events/s`);
  }
  const r = await run(current, 11 + round);
  samples.current.push(r);
  log(`current round ${round + 1}: ${r.cpuUs.toFixed(1)} µs CPU/event, ${Math.round(r.rate)} events/s`);
}
const best = (list: { cpuUs: number; rate: number }[]) => Math.min(...list.map((s) => s.cpuUs));
const rows: ResultRow[] = [
  {
    bench: 'simulator',
    metric: 'simulator CPU per served watch event (store write + 1 watcher), best of rounds',
    value: best(samples.current),
    unit: 'µs',
    ...(baseline && { baseline: best(samples.baseline), baselineName: baselineDir, ratio: best(samples.current) / best(samples.baseline) }),
    note: `rounds: ${samples.current.map((s) => s.cpuUs.toFixed(1)).join(' / ')} µs${baseline ? `; baseline ${samples.baseline.map((s) => s.cpuUs.toFixed(1)).join(' / ')} µs` : ''}`,
  },
  {
    bench: 'simulator',
    metric: 'events/s to the watcher (wall), best of rounds',
    value: Math.max(...samples.current.map((s) => s.rate)),
    unit: 'events/s',
    ...(baseline && { baseline: Math.max(...samples.baseline.map((s) => s.rate)), baselineName: baselineDir }),
  },
];
printResults(rows, { machine: machineInfo(), events: total, rounds, tls });
