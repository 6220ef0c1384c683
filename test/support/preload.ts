import { afterAll } from 'bun:test';
import { stopTestPostgres } from './pg.ts';

// Stops the shared embedded PostgreSQL after the last test file; it is only started on first use.
afterAll(stopTestPostgres);
