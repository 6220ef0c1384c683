const checkStuck = Symbol('check stuck');

/** How long to poll, and what is awaited (named in the timeout error). */
export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  what?: string;
}

/**
 * Polls `check` until it returns a value other than `undefined` or `false`, and returns that
 * value; throws after `timeoutMs`, naming `what` and the last error the check threw. The one
 * wait of the suite: `false` and `undefined` both mean "not yet", anything else is the answer.
 */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const what = options.what ?? 'condition';
  let last: unknown;
  for (;;) {
    // A check that never settles (a query on a hung connection) fails the wait, named, instead of
    // running into the test's own timeout.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<typeof checkStuck>((resolve) => {
      timer = setTimeout(() => resolve(checkStuck), Math.max(0, deadline - Date.now()) + 1000);
    });
    let value: Awaited<ReturnType<typeof check>> | typeof checkStuck = undefined;
    try {
      value = await Promise.race([Promise.resolve().then(check), stuck]);
    } catch (err) {
      last = err;
    } finally {
      clearTimeout(timer);
    }
    if (value === checkStuck) throw new Error(`timed out waiting for ${what}: the check itself did not return`);
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await Bun.sleep(10);
  }
}
