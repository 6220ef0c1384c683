import { afterAll, setDefaultTimeout } from 'bun:test';
import { stopTestPostgres } from './pg.ts';

// bunfig's [test] timeout is not applied by Bun 1.4.5; integration tests start servers and
// processes on a shared 2-core machine, so 5 s is too tight a default.
setDefaultTimeout(30_000);

// Stops the shared embedded PostgreSQL after the last test file; it is only started on first use.
afterAll(stopTestPostgres);
