// Alternative statement forms for writing a batch of event rows, measured against each other by
// bench/insert.ts. Each takes the same records as lib/storage/event-store.ts insertEventRows.
import type postgres from 'postgres';
import { createSql } from '../../lib/storage/db.ts';
import { recordColumns, type EventRecord } from '../../lib/storage/event-store.ts';

type Sql = postgres.Sql | postgres.ReservedSql | postgres.TransactionSql;

/** Plain multi-row VALUES insert, no ON CONFLICT (the baseline). */
export async function plainValuesInsert(sql: Sql, table: string, records: readonly EventRecord[]): Promise<number> {
  const result = await sql`insert into ${sql(table)} ${sql(records as EventRecord[], ...recordColumns)}`;
  return result.count;
}

const columnTypes: Record<(typeof recordColumns)[number], string> = {
  created_at: 'timestamptz',
  cluster_name: 'text',
  uid: 'text',
  global_uid: 'text',
  namespace: 'text',
  resource_kind: 'text',
  resource_name: 'text',
  involved_object_uid: 'text',
  event_type: 'text',
  reason: 'text',
  message: 'text',
  composition_id: 'uuid',
  raw: 'json',
  resource_version: 'text',
  count: 'int4',
  first_seen: 'timestamptz',
  reporting_controller: 'text',
  labels: 'jsonb',
};

/** `insert ... select * from unnest($1::t1[], ..., $18::t18[]) [on conflict do nothing]`: one parameter per column. */
export function unnestStatement(table: string, onConflict: boolean): string {
  const list = recordColumns.join(', ');
  const arrays = recordColumns.map((c, i) => `$${i + 1}::${columnTypes[c]}[]`).join(', ');
  return `insert into ${table} (${list}) select * from unnest(${arrays})${onConflict ? ' on conflict do nothing' : ''}`;
}

/** The column arrays for the unnest form. */
export function columnArrays(records: readonly EventRecord[]): unknown[][] {
  return recordColumns.map((column) => records.map((r) => r[column]));
}

export async function unnestInsert(sql: Sql, table: string, records: readonly EventRecord[], onConflict = true): Promise<number> {
  const result = await sql.unsafe(unnestStatement(table, onConflict), columnArrays(records) as never[], { prepare: true });
  return result.count;
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return `"${text.replaceAll('"', '""')}"`;
}

/**
 * COPY into a temporary staging table, then `insert ... select ... on conflict do nothing`, in one
 * transaction (the staging table, holding only the written columns, is created once per session and emptied
 * by ON COMMIT DELETE ROWS).
 */
export async function copyStagingInsert(sql: postgres.ReservedSql, table: string, records: readonly EventRecord[]): Promise<number> {
  const list = recordColumns.join(', ');
  let lines = '';
  for (const r of records) lines += `${recordColumns.map((c) => csvField(r[c])).join(',')}\n`;
  await sql`begin`;
  try {
    await sql.unsafe(
      `create temp table if not exists bench_stage on commit delete rows as select ${list} from ${table} with no data`,
    );
    const writable = await sql.unsafe(`copy bench_stage (${list}) from stdin with (format csv)`).writable();
    await new Promise<void>((resolve, reject) => {
      writable.on('error', reject);
      writable.on('finish', resolve);
      writable.end(lines);
    });
    const result = await sql.unsafe(`insert into ${table} (${list}) select ${list} from bench_stage on conflict do nothing`);
    await sql`commit`;
    return result.count;
  } catch (err) {
    await sql`rollback`.catch(() => {});
    throw err;
  }
}

/**
 * Writes `batches` with `connections` reserved connections pulling batches from one queue and
 * returns the wall time and the rows then in `table`.
 */
export async function measureInsertRate(
  url: string,
  options: { connections: number; table: string; name: string; write: (sql: postgres.ReservedSql, records: EventRecord[]) => Promise<number> },
  batches: readonly EventRecord[][],
): Promise<{ seconds: number; rows: number }> {
  const pool = createSql(url, { max: options.connections, applicationName: `bench-${options.name}` });
  const conns = await Promise.all(Array.from({ length: options.connections }, () => pool.reserve()));
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      conns.map(async (conn) => {
        for (let i = next++; i < batches.length; i = next++) await options.write(conn, batches[i]!);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    // Counted on a reserved connection: the pool has no free one while they are held.
    const [row] = await conns[0]!.unsafe(`select count(*)::int as n from ${options.table}`);
    return { seconds, rows: row?.n ?? 0 };
  } finally {
    for (const c of conns) c.release();
    await pool.end({ timeout: 5 });
  }
}

/** Splits records into batches of `size`. */
export function toBatches<T>(records: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < records.length; i += size) out.push(records.slice(i, i + size));
  return out;
}
