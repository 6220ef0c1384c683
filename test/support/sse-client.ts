/** A parsed SSE frame: its exact text (without the blank line) and fields. */
export interface SseFrame {
  text: string;
  id?: string;
  event?: string;
  data?: string;
}

/** A test SSE client over fetch that splits the body into frames exactly as sent. */
export interface SseClient extends AsyncDisposable {
  response: Response;
  /** Every byte received so far, decoded. */
  readonly received: string;
  /** The next complete frame, waiting at most `timeoutMs` (default 10 s, as `waitFor`). */
  next(timeoutMs?: number): Promise<SseFrame>;
  /** Frames until `predicate` holds for one (included), skipping nothing. */
  until(predicate: (frame: SseFrame) => boolean, timeoutMs?: number): Promise<SseFrame[]>;
  /** True once the server ended the body. */
  readonly ended: boolean;
  close(): void;
}

export function parseFrame(text: string): SseFrame {
  const frame: SseFrame = { text };
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const field = line.slice(0, i);
    const value = line.slice(i + 1).replace(/^ /, '');
    if (field === 'id') frame.id = value;
    if (field === 'event') frame.event = value;
    if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
  }
  return frame;
}

/** Opens `url` (status checked by the caller). */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const decoder = new TextDecoder();
  let received = '';
  let buffer = '';
  let ended = false;
  const frames: string[] = [];
  let notify: (() => void) | undefined;
  if (response.body && response.status === 200) {
    void (async () => {
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          const text = decoder.decode(chunk, { stream: true });
          received += text;
          buffer += text;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            frames.push(buffer.slice(0, end + 2));
            buffer = buffer.slice(end + 2);
          }
          notify?.();
        }
      } catch {
        // aborted by close()
      }
      ended = true;
      notify?.();
    })();
  }
  const next = async (timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (frames.length === 0) {
      if (ended) throw new Error('stream ended');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        notify = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      notify = undefined;
    }
    return parseFrame(frames.shift()!);
  };
  return {
    response,
    get received() {
      return received;
    },
    get ended() {
      return ended && frames.length === 0;
    },
    next,
    async until(predicate, timeoutMs = 10_000) {
      const out: SseFrame[] = [];
      for (;;) {
        const frame = await next(timeoutMs);
        out.push(frame);
        if (predicate(frame)) return out;
      }
    },
    close: () => abort.abort(),
    async [Symbol.asyncDispose]() {
      abort.abort();
    },
  };
}
