import { afterAll, beforeEach, expect } from 'bun:test';
import { stopTestPostgres } from './pg.ts';

// The 30 s default per test is `--timeout 30000` on the command line (README, .ci/run): Bun 1.4.5
// ignores bunfig's [test] timeout, and setDefaultTimeout here applies to the first file only.

// Stops the shared embedded PostgreSQL after the last test file; it is only started on first use.
afterAll(stopTestPostgres);

// No test passes without asserting: one that ends with no expect() call fails.
beforeEach(() => {
  expect.hasAssertions();
});
