// `bun run test:future`: the whole suite (or the test files given) with the clock moved ahead, by
// `faketime` (Debian package `faketime`). The test helpers pass the clock override on to every
// process a test starts (PostgreSQL, the services, the compiled executables), so all of them move
// by the same offset. Runs at 2031-01-01 and one year ahead by default; `--at=<date>` or
// `--ahead=<days>` (repeatable) choose other instants. Exits non-zero when a run fails.
//
//   bun run test:future                          # both default instants, whole suite
//   bun run test:future --ahead=365 test/db.test.ts
import { spawnSync } from 'node:child_process';

const dayMs = 86_400_000;

interface Target {
  label: string;
  /** Seconds to add to the real clock. */
  offsetSeconds: number;
}

function parseTargets(args: string[], nowMs: number): { targets: Target[]; rest: string[] } {
  const targets: Target[] = [];
  const rest: string[] = [];
  for (const arg of args) {
    const at = /^--at=(.+)$/.exec(arg)?.[1];
    const ahead = /^--ahead=(\d+)$/.exec(arg)?.[1];
    if (at !== undefined) {
      const atMs = Date.parse(at.includes('T') ? at : `${at}T00:00:00Z`);
      if (Number.isNaN(atMs)) throw new Error(`--at: not a date: ${at}`);
      // A date already past runs at the real time: the clock is never moved back.
      targets.push({ label: at, offsetSeconds: Math.max(0, Math.ceil((atMs - nowMs) / 1000)) });
    } else if (ahead !== undefined) {
      targets.push({ label: `${ahead} days ahead`, offsetSeconds: (Number(ahead) * dayMs) / 1000 });
    } else {
      rest.push(arg);
    }
  }
  if (targets.length === 0) return parseTargets(['--at=2031-01-01', '--ahead=365', ...rest], nowMs);
  return { targets, rest };
}

function main(): number {
  if (spawnSync('faketime', ['--help'], { stdio: 'ignore' }).error) {
    console.error('test:future needs faketime (Debian/Ubuntu: apt-get install faketime)');
    return 2;
  }
  const { targets, rest } = parseTargets(process.argv.slice(2), Date.now());
  const failed: string[] = [];
  for (const target of targets) {
    const shifted = new Date(Date.now() + target.offsetSeconds * 1000).toISOString();
    console.log(`\n=== test:future: ${target.label} (clock +${target.offsetSeconds} s, now ${shifted}) ===`);
    const run = spawnSync('faketime', ['-f', `+${target.offsetSeconds}s`, process.execPath, 'test', '--timeout', '30000', ...rest], {
      stdio: 'inherit',
    });
    if (run.status !== 0) failed.push(target.label);
  }
  console.log(failed.length === 0 ? '\ntest:future: every run passed' : `\ntest:future: failed at ${failed.join(', ')}`);
  return failed.length === 0 ? 0 : 1;
}

process.exit(main());
