// `bun run dev` as a user runs it: one process starts PostgreSQL, the simulator with its demo
// workload, the ingester and the presenter; the printed curl lines work; Ctrl-C leaves nothing behind.
import { describe, expect, test } from 'bun:test';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { retryWhilePortTaken } from './support/executable.ts';
import { waitFor } from './support/ingester-fixtures.ts';
import { openSse, type SseClient } from './support/sse-client.ts';
import { pickClockEnv } from './support/clock-env.ts';

const root = new URL('..', import.meta.url).pathname;

function startDevStack(dataDir: string, ports: { presenter: number; ingester: number }) {
  const proc = Bun.spawn(['bun', 'dev/stack.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dataDir, // no ~/.kube/config here: the demo simulator is used
      DEV_DATA_DIR: dataDir,
      PRESENTER_PORT: String(ports.presenter),
      INGESTER_PORT: String(ports.ingester),
      DEV_EVENTS_PER_SECOND: '40',
      ...pickClockEnv(),
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let output = '';
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  void collect(proc.stdout);
  void collect(proc.stderr);
  return {
    proc,
    get output() {
      return output;
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await proc.exited;
    },
  };
}

/**
 * Starts the stack on two free ports and waits until it says it is up; starts again on new ports
 * when one was taken before the stack bound it.
 */
async function startDevStackUp(dataDir: string, what: string) {
  return await retryWhilePortTaken(2, async ([presenter, ingester]) => {
    const ports = { presenter: presenter!, ingester: ingester! };
    const stack = startDevStack(dataDir, ports);
    await waitFor(() => stack.output.includes('Ctrl-C stops everything') || stack.proc.exitCode !== null || undefined, { timeoutMs: 60_000, what });
    if (stack.proc.exitCode !== null) {
      await stack[Symbol.asyncDispose]();
      throw new Error(`bun run dev exited with ${stack.proc.exitCode}; output:\n${stack.output}`);
    }
    return Object.assign(stack, { ports });
  });
}

async function collectEvents(client: SseClient, count: number): Promise<{ namespace: string; composition_id: string | null }[]> {
  const events: { namespace: string; composition_id: string | null }[] = [];
  while (events.length < count) {
    const frame = await client.next(15_000);
    if (frame.event === 'krateo') events.push(JSON.parse(frame.data!));
  }
  return events;
}

/** The key `bun run dev` used to sign with, published in its source until it made its own. */
const formerlyPublishedKey = 'dev-only-signing-key-change-me';

/** Whether `token`'s HS256 signature is made with `key`. */
const signedWith = (token: string, key: string) => {
  const [header, payload, signature] = token.split('.');
  return createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url') === signature;
};

/** This machine's IPv4 addresses other than loopback. */
const outsideAddresses = () =>
  Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address));

async function portIsFree(port: number, hostname = '127.0.0.1'): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname, port, socket: { data() {} } });
    socket.end();
    return false;
  } catch {
    return true;
  }
}

describe('bun run dev', () => {
  test('starts the whole stack on 127.0.0.1 only, prints working tokens (signed with its own random key) for a restricted and an admin user, stops cleanly on Ctrl-C and reuses its data', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'events-dev-'));
    // As root the embedded server runs as `postgres`, which must be able to enter the parent folder.
    chmodSync(dataDir, 0o755);
    try {
      let ports = { presenter: 0, ingester: 0 };
      {
        await using stack = await startDevStackUp(dataDir, 'the stack to start');
        ports = stack.ports;
        expect(stack.output).toContain('no reachable cluster: started the Kubernetes API simulator');
        expect(stack.output).toContain('(new)');
        const tokens = [...stack.output.matchAll(/curl -N -H 'Authorization: Bearer ([^']+)' (\S+)/g)].map((m) => ({ token: m[1]!, url: m[2]! }));
        expect(tokens.map((t) => t.url)).toEqual([`http://127.0.0.1:${ports.presenter}/notifications`, `http://127.0.0.1:${ports.presenter}/notifications`]);
        const [alice, admin] = tokens;
        // Reachable from this machine only, and tokens nobody else can forge.
        const outside = outsideAddresses();
        expect(await Promise.all(outside.map((address) => portIsFree(ports.presenter, address)))).toEqual(outside.map(() => true));
        expect(tokens.map((t) => signedWith(t.token, formerlyPublishedKey))).toEqual([false, false]);
        expect(readFileSync(join(dataDir, 'jwt-sign-key'), 'utf8').trim().length).toBeGreaterThanOrEqual(32);
        const consoleLinks = [...stack.output.matchAll(/console: (\S+)#token=(\S+)/g)].map((m) => ({ token: m[2]!, url: m[1]! }));
        expect(consoleLinks).toEqual(tokens.map((t) => ({ token: t.token, url: `http://127.0.0.1:${ports.presenter}/ui` })));
        expect((await fetch(consoleLinks[0]!.url)).status).toBe(200);

        await using aliceStream = await openSse(alice!.url, { authorization: `Bearer ${alice!.token}` });
        await using adminStream = await openSse(admin!.url, { authorization: `Bearer ${admin!.token}` });
        const [aliceEvents, adminEvents] = await Promise.all([collectEvents(aliceStream, 10), collectEvents(adminStream, 60)]);
        expect(new Set(aliceEvents.map((e) => e.namespace)).size).toBeGreaterThan(0);
        expect([...new Set(aliceEvents.map((e) => e.namespace))].every((ns) => ns === 'team-a' || ns === 'team-b')).toBe(true);
        expect([...new Set(adminEvents.map((e) => e.namespace))].some((ns) => ns !== 'team-a' && ns !== 'team-b')).toBe(true);
        // Pods of the demo compositions carry the label: the ingester correlated some events.
        expect(adminEvents.some((e) => e.composition_id !== null)).toBe(true);

        stack.proc.kill('SIGINT');
        expect(await stack.proc.exited).toBe(0);
      }
      await waitFor(async () => ((await portIsFree(ports.presenter)) && (await portIsFree(ports.ingester)) ? true : undefined), { what: 'ports released' });
      expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

      await using again = await startDevStackUp(dataDir, 'the second start');
      expect(again.output).toContain('(reused)');
      again.proc.kill('SIGINT');
      expect(await again.proc.exited).toBe(0);
      expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 150_000);
});
