import type { Subprocess } from 'bun';
import { pickClockEnv } from './clock-env.ts';

/** A port that was free a moment ago (bound on 127.0.0.1 port 0, then released). */
export function freePort(): number {
  const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

/** A started executable whose output is kept for failure messages; disposing it kills it. */
export interface RunningExecutable extends AsyncDisposable {
  readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Sends `signal` and resolves with the exit code, or throws when it has not exited within `timeoutMs`. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<number>;
}

/** Starts `path` (with `args`) in `cwd` with exactly `env` (nothing inherited from the test process). */
export function startExecutable(path: string, options: { cwd: string; env: Record<string, string>; args?: string[] }): RunningExecutable {
  const proc = Bun.spawn([path, ...(options.args ?? [])], { cwd: options.cwd, env: { ...options.env, ...pickClockEnv() }, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  let text = '';
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const collected = Promise.all([collect(proc.stdout), collect(proc.stderr)]);
  const stop = async (signal: NodeJS.Signals, timeoutMs: number) => {
    proc.kill(signal);
    const timeout = Bun.sleep(timeoutMs).then(() => 'timeout' as const);
    const code = await Promise.race([proc.exited, timeout]);
    if (code === 'timeout') throw new Error(`${path} did not exit within ${timeoutMs} ms of ${signal}; output:\n${text}`);
    await collected;
    return code;
  };
  return {
    proc,
    output: () => text,
    stop,
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await proc.exited;
      }
    },
  };
}

/**
 * Polls `url` until `accept(status, body)` holds and returns the body; throws with the process
 * output when `deadlineMs` passes or the process exits first.
 */
export async function waitForAnswer(
  url: string,
  running: RunningExecutable,
  accept: (status: number, body: string) => boolean,
  deadlineMs = 20_000,
): Promise<string> {
  const deadline = Date.now() + deadlineMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (running.proc.exitCode !== null) throw new Error(`exited with ${running.proc.exitCode} before ${url} answered as expected; output:\n${running.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const body = await response.text();
      if (accept(response.status, body)) return body;
      last = `${response.status} ${body}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not answer as expected within ${deadlineMs} ms (last: ${last}); output:\n${running.output()}`);
}
