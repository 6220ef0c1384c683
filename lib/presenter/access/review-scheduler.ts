/** Runs access reviews a few at a time, users served in the order they first asked. */
export interface ReviewScheduler {
  /** Runs `task` for `username` once a slot is free; resolves or rejects as the task does. */
  run<T>(username: string, task: () => Promise<T>): Promise<T>;
}

// A counting semaphore whose released slot passes straight to the next waiter.
interface Lane {
  running: number;
  waiting: (() => void)[];
}

/**
 * Reviews are sent for at most `maxConcurrentReviews / maxReviewsPerUser` users at a time, at most
 * `maxReviewsPerUser` each; the rest wait, users served in the order they first asked. Each of a
 * user's concurrent requests opens its own TLS connection with the user's certificate, so a user
 * keeps a few kept-alive connections busy until its questions are answered, and a burst (many
 * users warming up over many namespaces) finishes users one after another instead of all at the
 * end — without flooding the API server or letting queued requests run out their timeout (a
 * timeout denies).
 */
export function createReviewScheduler(options: { maxConcurrentReviews?: number; maxReviewsPerUser?: number } = {}): ReviewScheduler {
  const maxPerUser = Math.max(1, options.maxReviewsPerUser ?? 4);
  const maxUsers = Math.max(1, Math.floor((options.maxConcurrentReviews ?? 64) / maxPerUser));
  const users: Lane = { running: 0, waiting: [] };
  const perUser = new Map<string, Lane & { members: number; ready: Promise<void> }>();

  // The user's last question answered: its slot goes to the next user waiting, unless the answer
  // leads straight to more questions (the namespaces after the cluster-wide one).
  const leave = (username: string, lane: Lane & { members: number }) => {
    if (--lane.members > 0) return;
    setImmediate(() => {
      if (lane.members > 0 || perUser.get(username) !== lane) return;
      perUser.delete(username);
      release(users);
    });
  };

  return {
    async run(username, task) {
      let lane = perUser.get(username);
      if (!lane) perUser.set(username, (lane = { running: 0, waiting: [], members: 0, ready: acquire(users, maxUsers) }));
      lane.members++;
      try {
        await lane.ready;
        await acquire(lane, maxPerUser);
        try {
          return await task();
        } finally {
          release(lane);
        }
      } finally {
        leave(username, lane);
      }
    },
  };
}

async function acquire(lane: Lane, max: number): Promise<void> {
  if (lane.running >= max) await new Promise<void>((resolve) => lane.waiting.push(resolve));
  else lane.running++;
}

function release(lane: Lane): void {
  const next = lane.waiting.shift();
  if (next) next();
  else lane.running--;
}
