// The live tail: an EventSource on /notifications that resumes by the last id it saw. The browser's
// EventSource reconnects with Last-Event-ID by itself after a drop or a `resume` frame; when it gives
// up (a refused reconnect), this reconnects with `lastEventId` so nothing is lost either way.
import { withQuery, type EventPayload } from './api.ts';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface LiveTailOptions {
  token: string;
  /** Equality filters the server applies to the stream. */
  filters: Record<string, string | undefined>;
  onEvents: (events: EventPayload[]) => void;
  onState: (state: ConnectionState) => void;
  /** The server refused the token (the stream will not be retried). */
  onUnauthorised: () => void;
}

const retryMs = 3000;

/** Opens the stream; frames are delivered in batches (one per animation frame), each id at most once. */
export function startLiveTail(options: LiveTailOptions) {
  let source: EventSource | undefined;
  let lastSeq: number | undefined;
  let closed = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let batch: EventPayload[] = [];
  let flushing = false;

  const flush = () => {
    flushing = false;
    const events = batch;
    batch = [];
    if (events.length > 0) options.onEvents(events);
  };

  const open = () => {
    const url = withQuery('/notifications', { ...options.filters, token: options.token, lastEventId: lastSeq === undefined ? undefined : String(lastSeq) });
    options.onState(lastSeq === undefined ? 'connecting' : 'reconnecting');
    const es = new EventSource(url);
    source = es;
    es.onopen = () => options.onState('live');
    es.addEventListener('krateo', (message) => {
      const seq = Number((message as MessageEvent).lastEventId);
      // Ids are ordered positions: anything at or before the last one seen is a repeat.
      if (lastSeq !== undefined && seq <= lastSeq) return;
      lastSeq = seq;
      batch.push(JSON.parse((message as MessageEvent<string>).data) as EventPayload);
      if (!flushing) {
        flushing = true;
        requestAnimationFrame(flush);
      }
    });
    es.onerror = () => {
      if (closed) return;
      if (es.readyState === EventSource.CONNECTING) {
        options.onState('reconnecting');
        return;
      }
      // The browser gave up (a non-200 answer): find out whether the token is still good, then retry.
      es.close();
      options.onState('offline');
      void fetch(withQuery('/events', { limit: '1' }), { headers: { authorization: `Bearer ${options.token}` } })
        .then((r) => (r.status === 401 ? options.onUnauthorised() : scheduleRetry()))
        .catch(scheduleRetry);
    };
  };

  const scheduleRetry = () => {
    if (closed) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, retryMs);
  };

  open();
  return {
    close() {
      closed = true;
      clearTimeout(retryTimer);
      source?.close();
    },
  };
}
