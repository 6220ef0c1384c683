import type { Sql } from '../../storage/db.ts';
import { readEventsAfter } from '../../storage/event-store.ts';
import { scopeToSql, type EventVisibility } from '../access/event-visibility.ts';
import type { NamespaceCatalog } from '../access/namespace-catalog.ts';
import { andAll, filtersToSql, type EventFilters } from '../core/filters.ts';
import type { PresenterMetrics } from '../core/metrics.ts';
import { encodeEventFrame } from './frames.ts';
import type { SseStream } from './stream.ts';

/**
 * Writes the stored rows with `afterSeq < seq <= untilSeq` that the user may see (authorised again,
 * as an SQL predicate over what `visibility` lets it see) and that match `filters`, in seq order.
 * Writes wait for the socket (the stream's byte bound is never exceeded). At most `maxRows` are written: when more remain the stream gets a `replay_limit` resume frame
 * and is closed. Resolves true when replay completed and the stream is still open.
 */
export async function replayInto(
  stream: SseStream,
  options: {
    sql: Sql;
    visibility: EventVisibility;
    catalog: NamespaceCatalog;
    username: string;
    filters: EventFilters;
    afterSeq: number;
    untilSeq: number;
    maxRows: number;
    batchRows: number;
    metrics: PresenterMetrics;
  },
): Promise<boolean> {
  const { sql } = options;
  const candidates = options.filters.equal.namespace ?? (await options.catalog.list());
  const scope = await options.visibility.scope(options.username, candidates, { clusters: options.filters.equal.cluster, kinds: options.filters.equal.kind });
  if (scope.length === 0) return !stream.closed;
  const where = andAll(sql, [
    sql`seq <= ${options.untilSeq}`,
    filtersToSql(sql, options.filters),
    scopeToSql(sql, scope),
  ]);
  let after = options.afterSeq;
  let written = 0;
  while (!stream.closed) {
    const room = options.maxRows - written;
    const rows = await readEventsAfter(sql, { afterSeq: after, limit: Math.max(1, Math.min(options.batchRows, room)), where });
    if (rows.length === 0) return !stream.closed;
    if (room <= 0) {
      stream.closeWithResume('replay_limit');
      return false;
    }
    for (const row of rows) {
      if (!(await stream.writeEventWhenRoom(encodeEventFrame(row), row.seq))) return false;
    }
    options.metrics.sseEventsReplayed.add(rows.length);
    written += rows.length;
    after = rows[rows.length - 1]!.seq;
  }
  return false;
}
