import { parseFrame } from './sse-client.ts';

/** An event as the Krateo frontend keeps it. */
export type KrateoEvent = Record<string, unknown> & { global_uid: string };

/**
 * A client that behaves like the Krateo frontend's `event-source-polyfill` usage: it sends the token
 * as a Bearer header, listens only to `krateo` events, keeps one entry per `global_uid` (a newer
 * version replaces the older one), remembers the last event id, and on reconnect sends it as the
 * `lastEventId` query parameter — never as a `Last-Event-ID` header, which the polyfill does not send.
 */
export function createKrateoLikeClient(options: { url: string; token: string }) {
  const events = new Map<string, KrateoEvent>();
  const deliveries: KrateoEvent[] = [];
  const requestedUrls: string[] = [];
  let lastEventId: string | undefined;
  let abort: AbortController | undefined;
  let waiters: (() => void)[] = [];
  const notify = () => {
    const current = waiters;
    waiters = [];
    for (const wake of current) wake();
  };

  const connect = async () => {
    abort = new AbortController();
    const url = new URL(options.url);
    if (lastEventId !== undefined) url.searchParams.set('lastEventId', lastEventId);
    requestedUrls.push(url.pathname + url.search);
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${options.token}`, accept: 'text/event-stream', 'cache-control': 'no-cache' },
      signal: abort.signal,
    });
    if (response.status !== 200 || !response.body) throw new Error(`stream answered ${response.status}`);
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = parseFrame(buffer.slice(0, end + 2));
            buffer = buffer.slice(end + 2);
            if (frame.id !== undefined) lastEventId = frame.id;
            if (frame.event !== 'krateo' || frame.data === undefined) continue;
            const event = JSON.parse(frame.data) as KrateoEvent;
            deliveries.push(event);
            events.set(event.global_uid, event);
            notify();
          }
        }
      } catch {
        // aborted: the polyfill's reconnect
      }
    })();
  };

  return {
    connect,
    /** What the polyfill does when its heartbeat timeout fires: drop the connection and reconnect. */
    async reconnect() {
      abort?.abort();
      await connect();
    },
    /** Entries by `global_uid`, as the frontend shows them. */
    events,
    /** Every `krateo` message received, duplicates included. */
    deliveries,
    requestedUrls,
    async waitForDeliveries(count: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (deliveries.length < count) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`timed out with ${deliveries.length} of ${count} deliveries`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async [Symbol.asyncDispose]() {
      abort?.abort();
    },
  };
}
