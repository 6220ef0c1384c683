import type { Queryable } from './db.ts';

/** One item handed from a watch to the pipeline; `complete()` once its row is committed (or it needs none). */
export interface CheckpointTicket {
  complete(): void;
}

/** Per watch scope, the resourceVersion up to which everything the watch delivered is committed. */
export interface CheckpointTracker {
  /**
   * Registers the next item of `scope` in delivery order. `resourceVersion` is where a watch could
   * resume once this item and every earlier one are complete; undefined for list items, whose
   * versions are not ordered (the list's own version is registered after its last item).
   */
  track(scope: string, resourceVersion: string | undefined): CheckpointTicket;
  /** Registers a position that needs no row (a bookmark, a deletion, the end of a list). */
  mark(scope: string, resourceVersion: string): void;
  /** The newest safe resourceVersion of `scope`, if any. */
  safeVersion(scope: string): string | undefined;
  /** Forgets pending items of `scope` (its watch restarts with a relist). */
  reset(scope: string): void;
}

interface Slot {
  resourceVersion: string | undefined;
  done: boolean;
}

interface Lane {
  slots: Slot[];
  head: number;
  safe: string | undefined;
  generation: number;
}

/**
 * Creates a tracker that advances a scope's safe version only past a contiguous run of completed
 * items, so a checkpoint never claims a version whose row (or an earlier one) is not yet committed,
 * even when rows commit out of delivery order (composition lookups, retries).
 */
export function createCheckpointTracker(): CheckpointTracker {
  const lanes = new Map<string, Lane>();
  const laneOf = (scope: string): Lane => {
    let lane = lanes.get(scope);
    if (!lane) {
      lane = { slots: [], head: 0, safe: undefined, generation: 0 };
      lanes.set(scope, lane);
    }
    return lane;
  };
  const advance = (lane: Lane) => {
    while (lane.head < lane.slots.length && lane.slots[lane.head]!.done) {
      const rv = lane.slots[lane.head]!.resourceVersion;
      if (rv !== undefined) lane.safe = rv;
      lane.head++;
    }
    // Drop the consumed prefix now and then instead of shifting on every completion.
    if (lane.head > 1024 && lane.head * 2 > lane.slots.length) {
      lane.slots = lane.slots.slice(lane.head);
      lane.head = 0;
    }
  };
  return {
    track(scope, resourceVersion) {
      const lane = laneOf(scope);
      const slot: Slot = { resourceVersion, done: false };
      const generation = lane.generation;
      lane.slots.push(slot);
      return {
        complete() {
          if (slot.done || lane.generation !== generation) return;
          slot.done = true;
          advance(lane);
        },
      };
    },
    mark(scope, resourceVersion) {
      const lane = laneOf(scope);
      lane.slots.push({ resourceVersion, done: true });
      advance(lane);
    },
    safeVersion: (scope) => lanes.get(scope)?.safe,
    reset(scope) {
      const lane = laneOf(scope);
      lane.generation++;
      lane.slots = [];
      lane.head = 0;
    },
  };
}

/** Reads the stored checkpoint of every scope of `clusterName`. */
export async function loadCheckpoints(sql: Queryable, clusterName: string): Promise<Map<string, string>> {
  const rows = await sql<{ scope: string; resource_version: string }[]>`
    select scope, resource_version from ingester_checkpoints where cluster_name = ${clusterName}`;
  return new Map(rows.map((r) => [r.scope, r.resource_version]));
}

/** Stores checkpoints (upsert), one statement for all scopes. */
export async function saveCheckpoints(sql: Queryable, clusterName: string, versions: Map<string, string>): Promise<void> {
  if (versions.size === 0) return;
  const rows = [...versions].map(([scope, resource_version]) => ({ cluster_name: clusterName, scope, resource_version }));
  await sql`
    insert into ingester_checkpoints ${sql(rows, 'cluster_name', 'scope', 'resource_version')}
    on conflict (cluster_name, scope) do update set resource_version = excluded.resource_version, updated_at = now()`;
}
