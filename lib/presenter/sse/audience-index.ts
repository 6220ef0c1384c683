import type { StoredEvent } from '../../storage/event-store.ts';
import type { EventVisibility } from '../access/event-visibility.ts';
import type { SubscriberGroups, UserGroup } from './subscribers.ts';

/** Keys (cluster and namespace, plus the kind in strict mode) whose visibility the index remembers before starting over. */
const maxIndexedKeys = 50_000;

/** Which groups may see one key, as last decided. */
export interface AudienceEntry {
  /** `groups.version` when built: a group added since is not in the lists. */
  version: number;
  /** The lists may be used until then (epoch ms); see `EventVisibility.peekDecision`. */
  recheckAt: number;
  allowed: UserGroup[];
  /** Groups without a fresh decision yet (asked again each time the key is used). */
  unknown: UserGroup[];
}

/** The groups that may see each key, so a pass asks nothing per group and key. */
export interface AudienceIndex {
  /**
   * The entry for `key` (the visibility key of `row`). Every current group is in `allowed` (its
   * cached decision allows the key), in `unknown` (no fresh decision cached), or in neither (denied);
   * `allowed` may still hold groups that have lost their clients since. Built again once a group was added or a decision it was made of is due for a recheck; groups in
   * `unknown` are asked again (from the cache only) each time.
   */
  entryFor(key: string, row: StoredEvent, nowMs: number): AudienceEntry;
}

/** Creates an empty index over `groups`; decisions are only peeked (never requested) from `visibility`. */
export function createAudienceIndex(options: { visibility: EventVisibility; groups: SubscriberGroups }): AudienceIndex {
  const { visibility, groups } = options;
  const index = new Map<string, AudienceEntry>();
  return {
    entryFor(key, row, nowMs) {
      let entry = index.get(key);
      if (entry && entry.version === groups.version && nowMs < entry.recheckAt) {
        if (entry.unknown.length > 0) {
          const still: UserGroup[] = [];
          for (const group of entry.unknown) {
            if (!groups.isCurrent(group)) continue;
            const decision = visibility.peekDecision(group.username, row.cluster_name, row.namespace, row.resource_kind);
            if (decision === undefined) still.push(group);
            else {
              if (decision.allowed) entry.allowed.push(group);
              entry.recheckAt = Math.min(entry.recheckAt, decision.recheckAt);
            }
          }
          entry.unknown = still;
        }
        return entry;
      }
      if (index.size >= maxIndexedKeys) index.clear();
      entry = { version: groups.version, recheckAt: Number.POSITIVE_INFINITY, allowed: [], unknown: [] };
      for (const group of groups.values()) {
        const decision = visibility.peekDecision(group.username, row.cluster_name, row.namespace, row.resource_kind);
        if (decision === undefined) entry.unknown.push(group);
        else {
          if (decision.allowed) entry.allowed.push(group);
          entry.recheckAt = Math.min(entry.recheckAt, decision.recheckAt);
        }
      }
      index.set(key, entry);
      return entry;
    },
  };
}
