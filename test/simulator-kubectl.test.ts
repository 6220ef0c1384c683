import { describe, expect, test } from 'bun:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../dev/simulator/index.ts';
import type { Simulator } from '../dev/simulator/index.ts';

// The simulator is checked against a real client. kubectl runs with an empty HOME so
// no developer config leaks in, and with KUBECONFIG pointing at a file from kubeconfigFor.

const kubectl = Bun.which('kubectl');
if (!kubectl) console.warn('kubectl is not installed: skipping the simulator-against-kubectl tests');

/** An empty HOME with a kubeconfig for the user; removed on dispose. */
async function kubectlHome(sim: Simulator, username: string, groups: string[] = []) {
  const home = await mkdtemp(join(tmpdir(), 'sim-kubectl-'));
  const kubeconfig = join(home, 'kubeconfig');
  await writeFile(kubeconfig, await sim.kubeconfigFor(username, groups));
  const env = { HOME: home, KUBECONFIG: kubeconfig };
  return { env, [Symbol.asyncDispose]: () => rm(home, { recursive: true, force: true }) };
}

async function run(env: Record<string, string>, args: string[]) {
  const child = Bun.spawn([kubectl!, ...args], { env, stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code };
}

/** Spawns a long-running kubectl and collects its stdout; disposing kills it. */
function spawnCollecting(env: Record<string, string>, args: string[]) {
  const child = Bun.spawn([kubectl!, ...args], { env, stdout: 'pipe', stderr: 'pipe' });
  let stdout = '';
  let wake = () => {};
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of child.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      wake();
    }
    wake();
  })();
  const stderr = new Response(child.stderr).text();
  const until = async (needle: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!stdout.includes(needle)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || child.exitCode !== null) {
        throw new Error(`kubectl never printed ${JSON.stringify(needle)}; stdout:\n${stdout}\nstderr:\n${await stderr}`);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.min(remaining, 200));
      });
    }
    return stdout;
  };
  return {
    until,
    async [Symbol.asyncDispose]() {
      child.kill();
      await child.exited;
      await pump;
    },
  };
}

describe.skipIf(!kubectl)('simulator with kubectl', () => {
  test('kubectl auth can-i prints yes or no per the RBAC table with exit codes 0 and 1', async () => {
    await using sim = await startSimulator();
    sim.setRbac('alice', [{ verbs: ['list', 'watch'], resources: ['events'], apiGroups: [''], namespaces: ['team-a'] }]);
    await using home = await kubectlHome(sim, 'alice', ['devs']);

    const allowed = await run(home.env, ['auth', 'can-i', 'list', 'events', '-n', 'team-a']);
    expect({ out: allowed.stdout.trim(), code: allowed.code }).toEqual({ out: 'yes', code: 0 });
    const denied = await run(home.env, ['auth', 'can-i', 'list', 'events', '-n', 'team-b']);
    expect({ out: denied.stdout.trim(), code: denied.code }).toEqual({ out: 'no', code: 1 });
    const everywhere = await run(home.env, ['auth', 'can-i', 'list', 'events', '-A']);
    expect({ out: everywhere.stdout.trim(), code: everywhere.code }).toEqual({ out: 'no', code: 1 });

    const whoami = await run(home.env, ['auth', 'whoami', '-o', 'json']);
    expect(JSON.parse(whoami.stdout).status.userInfo).toEqual({ username: 'alice', groups: ['devs', 'system:authenticated'] });
  });

  test('kubectl get events -A -w prints an event created after it started', async () => {
    await using sim = await startSimulator();
    sim.createEvent({
      metadata: { namespace: 'team-a', name: 'web-1.before' },
      involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'team-a' },
      reason: 'BeforeWatch',
      message: 'created before kubectl started',
      type: 'Normal',
    });
    await using home = await kubectlHome(sim, 'admin', ['system:masters']);
    await using watch = spawnCollecting(home.env, ['get', 'events', '-A', '-w']);
    // kubectl writes a row in several pieces: wait for its last cell, the message.
    await watch.until('created before kubectl started');

    sim.createEvent({
      metadata: { namespace: 'team-b', name: 'db-0.after' },
      involvedObject: { kind: 'StatefulSet', name: 'db', namespace: 'team-b' },
      reason: 'AfterWatchStarted',
      message: 'created while kubectl watches',
      type: 'Warning',
    });
    const output = await watch.until('created while kubectl watches');
    expect(output).toMatch(/team-b\s+\d+s\s+Warning\s+AfterWatchStarted\s+statefulset\/db\s+created while kubectl watches/);
    expect(output).toMatch(/NAMESPACE\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE/);
  });

  test('kubectl get reads objects and reports a forbidden list the way a real cluster does', async () => {
    await using sim = await startSimulator();
    sim.setObject({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'team-a', name: 'web-1' } });
    await using admin = await kubectlHome(sim, 'admin', ['system:masters']);
    const pod = await run(admin.env, ['get', 'pod', 'web-1', '-n', 'team-a', '-o', 'jsonpath={.metadata.name}']);
    expect(pod).toMatchObject({ stdout: 'web-1', code: 0 });

    await using alice = await kubectlHome(sim, 'alice');
    const forbidden = await run(alice.env, ['get', 'events', '-n', 'team-b']);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('events is forbidden: User "alice" cannot list resource "events"');
  });
});
