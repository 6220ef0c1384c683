import type { Sql } from '../../storage/db.ts';
import { readEventsAfter, type StoredEvent } from '../../storage/event-store.ts';
import { scopeToSql, type EventVisibility } from '../access/event-visibility.ts';
import { errorFields, type Logger } from '../../runtime/log.ts';
import type { NamespaceCatalog } from '../access/namespace-catalog.ts';
import { encodeEventFrame } from './frames.ts';
import type { GroupWriter } from './group-writer.ts';
import type { RecentRow, RecentRows } from './recent-rows.ts';
import type { SubscriberGroups, UserGroup } from './subscribers.ts';
import { sleep } from '../../runtime/sleep.ts';

/** Takes a group off live delivery and brings it back once its decisions are known. */
export interface CatchUp {
  /**
   * Marks `group` behind after `after` (every row up to it was handled for it; the live reader must
   * skip it from then on) and catches it up after the current turn: rows still in `recent` are
   * written from memory once their decisions are in, older ones are read from the table up to the
   * cursor over what the user may see in every known namespace (as replay does), each row once and
   * in seq order. Once it reaches the cursor the group is live again (`behind` undefined). A failure
   * is logged and retried with backoff from where it stopped; it ends when `signal` aborts or the
   * group is gone.
   */
  fallBehind(group: UserGroup, after: number): void;
}

/**
 * Creates the catch-up. `cursor()` is the live reader's position: every passed row up to it is in
 * `recent` or the table, and the reader records each row's namespace (and kind) in `catalog` before
 * passing it. At most `passRows` rows are written between two turns of the event loop.
 */
export function createCatchUp(options: {
  sql: Sql;
  visibility: EventVisibility;
  catalog: NamespaceCatalog;
  groups: SubscriberGroups;
  recent: RecentRows;
  writer: GroupWriter;
  cursor: () => number;
  batchRows: number;
  passRows: number;
  log: Logger;
  signal: AbortSignal;
}): CatchUp {
  const { sql, visibility, catalog, groups, recent, writer, cursor, batchRows, passRows, log, signal } = options;

  /**
   * Writes to a group catching up the rows after `group.behind` still held in `recent` (at most
   * `maxRows` of them), as far as its decisions are known. Returns the rows whose decision is
   * missing (empty when none); the group is live again once it reached the cursor.
   */
  const catchUpFromRecent = (group: UserGroup, maxRows: number): StoredEvent[] => {
    const lo = recent.firstAfter(group.behind!);
    const last = recent.end;
    const end = Math.min(last, lo + maxRows);
    const mine: RecentRow[] = [];
    const missing: StoredEvent[] = [];
    let k = lo;
    for (; k < end; k++) {
      const { row } = recent.at(k);
      const decision = visibility.peekDecision(group.username, row.cluster_name, row.namespace, row.resource_kind);
      if (decision === undefined) {
        // Ask every missing decision among the rows held at once, not one per round trip.
        for (let j = k; j < last; j++) {
          const other = recent.at(j).row;
          if (visibility.peekDecision(group.username, other.cluster_name, other.namespace, other.resource_kind) === undefined) missing.push(other);
        }
        break;
      }
      if (decision.allowed) mine.push(recent.at(k));
    }
    writer.writeToGroup(
      group,
      mine.map((r) => r.row),
      (i) => (mine[i]!.frame ??= encodeEventFrame(mine[i]!.row)),
    );
    if (k > lo) group.behind = recent.at(k - 1).row.seq;
    // `recent` ends with the cursor's row: nothing is left for the live reader to skip.
    if (group.behind! >= cursor()) group.behind = undefined;
    return missing;
  };

  // The live reader skips the group meanwhile, so no row is written twice and none is skipped.
  const catchUp = async (group: UserGroup) => {
    let delayMs = 100;
    while (!signal.aborted && groups.isCurrent(group) && group.behind !== undefined) {
      try {
        if (group.behind >= recent.after) {
          const missing = catchUpFromRecent(group, passRows);
          if (group.behind === undefined) return;
          if (missing.length === 0) await new Promise<void>((resolve) => setImmediate(resolve));
          else {
            const asked = new Map<string, StoredEvent>();
            for (const row of missing) asked.set(visibility.keyOf(row.cluster_name, row.namespace, row.resource_kind), row);
            const needed = [...asked.values()].map((row) => visibility.canSee(group.username, row.cluster_name, row.namespace, row.resource_kind));
            // The rest of the user's decisions in the same round (reviews go out in the order
            // asked): a user warming up is then done in one wait, not one per new namespace.
            const rest = catalog.list().then((candidates) => visibility.scope(group.username, candidates));
            await Promise.all([...needed, rest]);
          }
          continue;
        }
        // The cursor first: the reader records every row's namespace (and kind) before passing it,
        // so the candidates read next cover every row up to `until`.
        const until = cursor();
        const candidates = await catalog.list();
        const scope = await visibility.scope(group.username, candidates);
        if (signal.aborted || !groups.isCurrent(group)) return;
        const after: number = group.behind;
        const rows =
          scope.length === 0
            ? []
            : await readEventsAfter(sql, {
                afterSeq: after,
                limit: batchRows,
                where: sql`seq <= ${until} and ${scopeToSql(sql, scope)}`,
              });
        for (let a = 0; a < rows.length; a += passRows) {
          if (a > 0) await new Promise<void>((resolve) => setImmediate(resolve));
          if (signal.aborted || !groups.isCurrent(group)) return;
          const slice = rows.slice(a, a + passRows);
          const frames: (Uint8Array | undefined)[] = [];
          writer.writeToGroup(group, slice, (i) => (frames[i] ??= encodeEventFrame(slice[i]!)));
          group.behind = slice[slice.length - 1]!.seq;
        }
        group.behind = rows.length < batchRows ? until : rows[rows.length - 1]!.seq;
        if (group.behind >= cursor()) group.behind = undefined;
        delayMs = 100;
      } catch (err) {
        log.warn('stream catch-up failed, retrying', { user: group.username, after: group.behind, delay_ms: delayMs, ...errorFields(err) });
        await sleep(delayMs, signal);
        delayMs = Math.min(1000, delayMs * 2);
      }
    }
  };

  return {
    fallBehind(group, after) {
      group.behind = after;
      // Started after the current pass: it reads the cursor only once that pass is written.
      void Promise.resolve().then(() => catchUp(group));
    },
  };
}
