/**
 * What the environment lacks for some tests, as reasons. A test that cannot run here is skipped
 * visibly — `test.skipIf(reason !== undefined)(name + skipNote(reason), …)` — never passed silently.
 * kubectl and Helm come pinned from npm (layer-tools.ts), so no test skips for them.
 */

/** Set when the suite runs on an external server (`DATABASE_URL`), which it cannot stop or restart. */
export const noPostgresRestart: string | undefined = process.env.DATABASE_URL
  ? 'DATABASE_URL points at an external PostgreSQL, which the suite cannot stop or restart'
  : undefined;

/**
 * Set when the clock is moved by faketime (`bun run test:future`): PostgreSQL under libfaketime
 * never fires its statement_timeout, so tests that wait for it (or for queries queued behind a
 * lock) cannot run there.
 */
export const noPostgresTimers: string | undefined = process.env.FAKETIME
  ? "the clock is moved by faketime, under which PostgreSQL's statement_timeout does not fire"
  : undefined;

/** The suffix that puts the skip reason into a test's name; empty when the test runs. */
export function skipNote(reason: string | undefined): string {
  return reason === undefined ? '' : ` [SKIPPED: ${reason}]`;
}
