/**
 * What the environment lacks for some tests, as reasons. A test that cannot run here is skipped
 * visibly — `test.skipIf(reason !== undefined)(name + skipNote(reason), …)` — never passed silently.
 * CI (.ci/run) fails when a tool the suite needs is missing, so these skips only happen locally.
 */

/** Set when the suite runs on an external server (`DATABASE_URL`), which it cannot stop or restart. */
export const noPostgresRestart: string | undefined = process.env.DATABASE_URL
  ? 'DATABASE_URL points at an external PostgreSQL, which the suite cannot stop or restart'
  : undefined;

/** Set when kubectl is not on PATH. */
export const noKubectl: string | undefined = Bun.which('kubectl') ? undefined : 'kubectl is not installed';

/**
 * Set when kubectl cannot talk to the simulator: it is missing, or the clock is moved (`faketime`
 * cannot move a static Go binary's clock, so the simulator's certificates, issued at the moved
 * time, are not yet valid for it).
 */
export const noKubectlAgainstSimulator: string | undefined =
  noKubectl ?? (process.env.FAKETIME ? 'the clock is moved by faketime, which a static Go binary (kubectl) ignores' : undefined);

/**
 * The test process's clock override (`LD_PRELOAD`, `FAKETIME*`, set by `faketime`), for the
 * processes a test starts: a suite run with the clock moved (`bun run test:future`) moves every
 * clock it starts — PostgreSQL, the entry files, the compiled binaries — by the same offset.
 */
export function clockEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && (key === 'LD_PRELOAD' || key.startsWith('FAKETIME'))) env[key] = value;
  }
  return env;
}

/** The suffix that puts the skip reason into a test's name; empty when the test runs. */
export function skipNote(reason: string | undefined): string {
  return reason === undefined ? '' : ` [SKIPPED: ${reason}]`;
}
