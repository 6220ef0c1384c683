/**
 * What the environment lacks for some tests, as reasons. A test that cannot run here is skipped
 * visibly — `test.skipIf(reason !== undefined)(name + skipNote(reason), …)` — never passed silently.
 * kubectl and Helm come pinned from npm (layer-tools.ts), so no test skips for them.
 */

/** Set when the suite runs on an external server (`DATABASE_URL`), which it cannot stop or restart. */
export const noPostgresRestart: string | undefined = process.env.DATABASE_URL
  ? 'DATABASE_URL points at an external PostgreSQL, which the suite cannot stop or restart'
  : undefined;

/** The suffix that puts the skip reason into a test's name; empty when the test runs. */
export function skipNote(reason: string | undefined): string {
  return reason === undefined ? '' : ` [SKIPPED: ${reason}]`;
}
