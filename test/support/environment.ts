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

/** The suffix that puts the skip reason into a test's name; empty when the test runs. */
export function skipNote(reason: string | undefined): string {
  return reason === undefined ? '' : ` [SKIPPED: ${reason}]`;
}
