import type { Subprocess } from 'bun';
import { pickClockEnv } from './clock-env.ts';

/**
 * Ports that were free a moment ago (bound on 127.0.0.1 port 0, then released). Another process
 * may take one before the caller binds it: use only through {@link retryWhilePortTaken}.
 */
function pickFreePorts(count: number): number[] {
  const servers = Array.from({ length: count }, () => Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } }));
  const ports = servers.map((server) => server.port);
  for (const server of servers) server.stop(true);
  return ports;
}

/**
 * Runs `start` with `count` free ports and returns what it returns; when it fails because a port
 * was taken between the pick and the bind (its error mentions EADDRINUSE), starts again with new
 * ports, up to 5 times. For services that must be told their port; a service that logs the port
 * it bound is started on port 0 instead (see {@link waitForLoggedPort}).
 */
export async function retryWhilePortTaken<T>(count: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(pickFreePorts(count));
    } catch (err) {
      if (attempt >= 5 || !String(err instanceof Error ? err.message : err).includes('EADDRINUSE')) throw err;
    }
  }
}

/**
 * Resolves with the `port` field of the first JSON log line whose `msg` is `message` (a service
 * started with PORT=0 logs the port it bound); throws with the output when the process exits first
 * or `deadlineMs` passes.
 */
export async function waitForLoggedPort(running: RunningExecutable, message: string, deadlineMs = 30_000): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    for (const line of running.output().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(line) as { msg?: unknown; port?: unknown };
        if (parsed.msg === message && typeof parsed.port === 'number') return parsed.port;
      } catch {
        // a partly written line: read again on the next pass
      }
    }
    if (running.proc.exitCode !== null) throw new Error(`exited with ${running.proc.exitCode} before logging "${message}"; output:\n${running.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${message}" log line within ${deadlineMs} ms; output:\n${running.output()}`);
    await Bun.sleep(20);
  }
}

/** A started executable whose output is kept for failure messages; disposing it kills it. */
export interface RunningExecutable extends AsyncDisposable {
  readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Sends `signal` and resolves with the exit code, or throws when it has not exited within `timeoutMs`. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<number>;
}

/** Starts `path` (with `args`) in `cwd` with exactly `env`; only a test-clock override is inherited (see `clockEnv`). */
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
