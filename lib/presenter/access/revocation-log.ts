/** What a review in flight carries so that its answer can be checked against revocations. */
export interface RevocationTicket {
  userCluster: string;
  after: number;
}

/** Revocations as seen by the reviews in flight (see `createRevocationLog`). */
export interface RevocationLog {
  begin(userCluster: string): RevocationTicket;
  end(ticket: RevocationTicket): boolean;
  revoke(userCluster: string): void;
  prune(): void;
}

/**
 * Revocations of a user's credentials in a cluster (`user\0cluster\0`), as seen by the reviews in
 * flight: `begin` when a review is sent, `end` when it answers, true when a revocation of its user
 * and cluster came in between (it was asked with credentials no longer in force). A revocation is
 * remembered while a review begun before it is unanswered, and `prune` forgets it after that.
 */
export function createRevocationLog(): RevocationLog {
  let revocations = 0;
  const revokedAt = new Map<string, number>();
  const unanswered = new Map<string, number>();
  return {
    begin(userCluster) {
      unanswered.set(userCluster, (unanswered.get(userCluster) ?? 0) + 1);
      return { userCluster, after: revocations };
    },
    end({ userCluster, after }) {
      const left = unanswered.get(userCluster)! - 1;
      if (left === 0) unanswered.delete(userCluster);
      else unanswered.set(userCluster, left);
      return (revokedAt.get(userCluster) ?? 0) > after;
    },
    revoke(userCluster) {
      revokedAt.set(userCluster, ++revocations);
    },
    prune() {
      for (const userCluster of revokedAt.keys()) if (!unanswered.has(userCluster)) revokedAt.delete(userCluster);
    },
  };
}
