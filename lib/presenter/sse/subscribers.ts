import type { EventFilters } from '../core/filters.ts';
import type { SseStream } from './stream.ts';
import type { UserCredentials } from '../access/user-credentials.ts';

/** A subscriber as the hub sees it: one open stream with its filters. */
export interface HubClient {
  stream: SseStream;
  filters: EventFilters;
  /** No equality filter: gets every row its user may see (shares its group's coalesced chunks). */
  unfiltered: boolean;
  /** Frames up to this seq were already sent (or replayed); later duplicates are dropped. */
  minSeq: number;
  /** Live frames held while replay runs; undefined once live. */
  pending?: { frame: Uint8Array; seq: number }[];
  pendingBytes: number;
}

/** Clients of one user share its authorisation decisions. */
export interface UserGroup {
  username: string;
  creds: UserCredentials;
  clients: Set<HubClient>;
  /**
   * Undefined while the group is served live. Otherwise every row up to this seq was handled for it,
   * and it catches up from the table (a decision it needs is pending) until it reaches the cursor.
   */
  behind?: number;
}

/** The open streams grouped by user. */
export interface SubscriberGroups {
  /** Changes whenever a group is created: a list of groups built at an older version may miss one. */
  readonly version: number;
  /** The current groups, in creation order. */
  values(): IterableIterator<UserGroup>;
  /** The user's group, when the user has an open stream. */
  find(username: string): UserGroup | undefined;
  /** False once the group lost its last client (a later connect for the user makes a new group). */
  isCurrent(group: UserGroup): boolean;
  /** Adds `client` to the user's group, creating the group (with `creds`) when there is none. */
  join(username: string, creds: UserCredentials, client: HubClient): UserGroup;
  /** Removes `client` from the user's group; a group left without clients is dropped. */
  leave(username: string, client: HubClient): void;
}

/** Creates an empty set of groups. */
export function createSubscriberGroups(): SubscriberGroups {
  const groups = new Map<string, UserGroup>();
  let version = 0;
  return {
    get version() {
      return version;
    },
    values: () => groups.values(),
    find: (username) => groups.get(username),
    isCurrent: (group) => groups.get(group.username) === group,
    join(username, creds, client) {
      let group = groups.get(username);
      if (!group) {
        groups.set(username, (group = { username, creds, clients: new Set() }));
        version++;
      }
      group.clients.add(client);
      return group;
    },
    leave(username, client) {
      const group = groups.get(username);
      if (!group) return;
      group.clients.delete(client);
      if (group.clients.size === 0) groups.delete(username);
    },
  };
}
