import type { Queryable } from '../storage/db.ts';

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

interface Lane {
  slots: Slot[];
  head: number;
  safe: string | undefined;
  generation: number;
}

// A registered item is its own ticket: one allocation per event, no closure.
class Slot implements CheckpointTicket {
  constructor(
    private readonly lane: Lane | undefined,
    private readonly generation: number,
    readonly resourceVersion: string | undefined,
    public done: boolean,
  ) {}

  complete(): void {
    const lane = this.lane;
    if (this.done || lane === undefined || lane.generation !== this.generation) return;
    this.done = true;
    // Only the oldest pending item can move the safe version.
    if (lane.slots[lane.head] === this) advance(lane);
  }
}

function advance(lane: Lane): void {
  const slots = lane.slots;
  let head = lane.head;
  while (head < slots.length && slots[head]!.done) {
    const rv = slots[head]!.resourceVersion;
    if (rv !== undefined) lane.safe = rv;
    head++;
  }
  lane.head = head;
  // Drop the consumed prefix now and then instead of shifting on every completion.
  if (head > 1024 && head * 2 > slots.length) {
    lane.slots = slots.slice(head);
    lane.head = 0;
  }
}

/**
 * Creates a tracker that advances a scope's safe version only past a contiguous run of completed
 * items, so a checkpoint never claims a version whose row (or an earlier one) is not yet committed,
 * even when rows commit out of delivery order (composition lookups, retries). Amortised O(1) per item.
 */
export function createCheckpointTracker(): CheckpointTracker {
  const lanes = new Map<string, Lane>();
  let lastScope: string | undefined;
  let lastLane: Lane | undefined;
  const laneOf = (scope: string): Lane => {
    if (scope === lastScope && lastLane !== undefined) return lastLane;
    let lane = lanes.get(scope);
    if (!lane) {
      lane = { slots: [], head: 0, safe: undefined, generation: 0 };
      lanes.set(scope, lane);
    }
    lastScope = scope;
    lastLane = lane;
    return lane;
  };
  return {
    track(scope, resourceVersion) {
      const lane = laneOf(scope);
      const slot = new Slot(lane, lane.generation, resourceVersion, false);
      lane.slots.push(slot);
      return slot;
    },
    mark(scope, resourceVersion) {
      const lane = laneOf(scope);
      lane.slots.push(new Slot(undefined, lane.generation, resourceVersion, true));
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
