// `bun run test:mutate`: a mutation spot-check of the suite. Copies the repository (the files git
// knows, plus untracked ones it does not ignore; node_modules linked) to a temporary folder, checks
// that the chosen test files pass there unchanged, then applies each known-bad change to lib/ in
// turn, runs the test files that guard it, and reports whether a test failed (killed) or not
// (survived). Exits 1 when a mutation survives or the unchanged copy fails. docs/testing.md keeps
// the last report.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

interface Mutation {
  name: string;
  file: string;
  /** Exact text in `file` (must occur once) and what replaces it. */
  from: string;
  to: string;
  tests: string[];
}

const presenterTests = ['test/presenter-auth.test.ts', 'test/presenter-events.test.ts'];

const mutations: Mutation[] = [
  {
    name: 'deny-all review: every SelfSubjectAccessReview answers "not allowed"',
    file: 'lib/presenter/access/access-review.ts',
    from: 'return answer.status?.allowed === true && answer.status.denied !== true;',
    to: 'return false;',
    tests: [...presenterTests, 'test/build-smoke.test.ts'],
  },
  {
    name: 'allow-all review: every SelfSubjectAccessReview answers "allowed"',
    file: 'lib/presenter/access/access-review.ts',
    from: 'return answer.status?.allowed === true && answer.status.denied !== true;',
    to: 'return true;',
    tests: [...presenterTests, 'test/build-smoke.test.ts'],
  },
  {
    name: 'CORS "*": every origin allowed whatever CORS_ORIGINS says',
    file: 'lib/presenter/cors.ts',
    from: "if (origins.includes('*')) return { 'access-control-allow-origin': '*' };",
    to: "return { 'access-control-allow-origin': '*' };",
    tests: ['test/presenter-auth.test.ts'],
  },
  {
    name: "cluster_name dropped from the per-cluster scope (one cluster's permission shows every cluster's rows)",
    file: 'lib/presenter/access/event-visibility.ts',
    from: 'const parts = [sql`cluster_name = ${cluster}`];',
    to: 'const parts = [sql`true`];',
    tests: ['test/presenter-clusters.test.ts'],
  },
  {
    name: 'no exp check: tokens verified at the epoch, without exp required (expired and exp-less tokens accepted)',
    file: 'lib/presenter/access/auth-token.ts',
    from: "requiredClaims: ['exp'], currentDate: new Date(now())",
    to: 'currentDate: new Date(0)',
    tests: ['test/presenter-auth.test.ts', 'test/fault-input.test.ts'],
  },
  {
    name: 'no retry on 57P01 (admin shutdown): the batch is treated as rejected and dropped',
    file: 'lib/ingest/batch-writer.ts',
    from: "return code !== undefined && (code.startsWith('22') || code.startsWith('23'));",
    to: "return code !== undefined && (code === '57P01' || code.startsWith('22') || code.startsWith('23'));",
    tests: ['test/ingester-batch-writer.test.ts', 'test/ingester-resilience.test.ts'],
  },
];

const root = join(import.meta.dir, '..');

function copyRepository(): string {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  const copy = mkdtempSync(join(tmpdir(), 'events-stack-mutate-'));
  for (const file of listed.stdout.split('\0').filter((f) => f !== '')) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(root, file), join(copy, file), { errorOnExist: false, force: true });
  }
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

/** Runs the test files in `dir`; returns the names of the tests that failed, or [] when all passed. */
function runTests(dir: string, files: string[]): { passed: boolean; failures: string[] } {
  const run = spawnSync(process.execPath, ['test', '--timeout', '30000', ...files], { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const output = `${run.stdout}${run.stderr}`;
  const failures = [...output.matchAll(/^\(fail\) (.+?)(?: \[[\d.]+m?s\])?$/gm)].map((m) => m[1]!);
  return { passed: run.status === 0, failures };
}

function main(): number {
  const copy = copyRepository();
  try {
    const files = [...new Set(mutations.flatMap((m) => m.tests))];
    console.log(`baseline (no mutation): ${files.join(' ')}`);
    const baseline = runTests(copy, files);
    if (!baseline.passed) {
      console.log(`baseline FAILED, mutations not tried: ${baseline.failures.join(' | ') || 'see bun test output'}`);
      return 1;
    }
    console.log('baseline passed\n');
    const survived: string[] = [];
    for (const mutation of mutations) {
      const path = join(copy, mutation.file);
      const original = readFileSync(path, 'utf8');
      const found = original.split(mutation.from).length - 1;
      // Loud: a mutation whose target moved must be rewritten, not silently count as killed.
      if (found !== 1) throw new Error(`${mutation.name}: expected the target text once in ${mutation.file}, found it ${found} times`);
      writeFileSync(path, original.replace(mutation.from, mutation.to));
      try {
        const result = runTests(copy, mutation.tests);
        if (result.passed) survived.push(mutation.name);
        const verdict = result.passed ? 'SURVIVED' : `killed by ${result.failures.length || 'a crashed run, no'} failing test(s):`;
        console.log(`- ${mutation.name}\n  ${mutation.file}; ran ${mutation.tests.join(' ')}\n  ${verdict}`);
        for (const failure of result.failures) console.log(`    ${failure}`);
      } finally {
        writeFileSync(path, original);
      }
    }
    console.log(`\n${mutations.length - survived.length} of ${mutations.length} mutations killed${survived.length ? `; survived: ${survived.join('; ')}` : ''}`);
    return survived.length === 0 ? 0 : 1;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

process.exit(main());
