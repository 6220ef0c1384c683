import { describe, expect, test } from 'bun:test';
import { createCluster } from '../dev/simulator/cluster.ts';
import { startSimulator, type KubeObject } from '../dev/simulator/index.ts';
import type { Change } from '../dev/simulator/store.ts';
import { runEventWatch } from '../lib/ingest/event-watch.ts';
import type { KubeEvent } from '../lib/ingest/event-record.ts';
import { createKubeHttp, loadKubeConfig } from '../lib/kube/client.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function event(name: string, count = 1): KubeObject {
  return {
    metadata: { namespace: 'ns', name },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: name.split('.')[0] },
    reason: 'Started',
    message: `event ${name}`,
    type: 'Normal',
    count,
  };
}

const summary = (change: Change) => ({ type: change.type, name: change.object.metadata.name, rv: change.rv, count: change.object.count });

describe('simulator retention', () => {
  test('with a watch window, a watch from before the window gets 410 Gone and one from inside it replays the rest', () => {
    const cluster = createCluster({ watchWindow: 3 });
    const events = cluster.storeForKind('v1', 'Event');
    const versions = ['a.1', 'b.1', 'c.1', 'd.1', 'e.1', 'f.1'].map((name) => Number(events.create(event(name)).metadata.resourceVersion));

    expect(() => events.watch({ fromVersion: versions[0] }, () => {})).toThrow(expect.objectContaining({ code: 410 }));
    const seen: Change[] = [];
    const stop = events.watch({ fromVersion: versions[2] }, (change) => seen.push(change));
    stop();
    expect(seen.map(summary)).toEqual([
      { type: 'ADDED', name: 'd.1', rv: versions[3]!, count: 1 },
      { type: 'ADDED', name: 'e.1', rv: versions[4]!, count: 1 },
      { type: 'ADDED', name: 'f.1', rv: versions[5]!, count: 1 },
    ]);
    expect(events.stats()).toEqual({ versions: 6, deleted: 0, objects: 6, retainedChanges: 3 });
  });

  test('a list at a version inside the watch window shows the objects as they were then', () => {
    const cluster = createCluster({ watchWindow: 4 });
    const events = cluster.storeForKind('v1', 'Event');
    for (const name of ['a.1', 'b.1', 'c.1', 'd.1', 'e.1']) events.create(event(name));
    const before = Number(cluster.clock.current());
    events.update(event('a.1', 2));
    events.remove('ns', 'b.1');
    events.create(event('f.1'));

    const then = events.list({ exactVersion: before });
    expect(then.items.map((item) => [item.metadata.name, item.count])).toEqual([
      ['a.1', 1],
      ['b.1', 1],
      ['c.1', 1],
      ['d.1', 1],
      ['e.1', 1],
    ]);
    expect(events.list({}).items.map((item) => [item.metadata.name, item.count])).toEqual([
      ['a.1', 2],
      ['c.1', 1],
      ['d.1', 1],
      ['e.1', 1],
      ['f.1', 1],
    ]);
    expect(() => events.list({ exactVersion: before - 2 })).toThrow(expect.objectContaining({ code: 410 }));
  });

  test('events not written for the TTL are deleted at the next store access, and watchers get DELETED', () => {
    let now = 1_000_000;
    const cluster = createCluster({ eventTtlMs: 60_000, now: () => now });
    const events = cluster.storeForKind('v1', 'Event');
    events.create(event('a.1'));
    events.create(event('b.1'));
    now += 30_000;
    events.update(event('b.1', 2)); // renews b.1's lease
    const seen: Change[] = [];
    events.watch({ fromVersion: cluster.clock.current() }, (change) => seen.push(change));

    now += 30_000;
    expect(events.list({}).items.map((item) => item.metadata.name)).toEqual(['b.1']);
    now += 30_000;
    expect(events.get('ns', 'b.1')).toBeUndefined();
    expect(seen.map((change) => [change.type, change.object.metadata.name, change.object.count])).toEqual([
      ['DELETED', 'a.1', 1],
      ['DELETED', 'b.1', 2],
    ]);
    expect(events.stats()).toEqual({ versions: 3, deleted: 2, objects: 0, retainedChanges: 5 });
  });

  test('the ingester watch, resuming after the window moved past it, relists over HTTPS and receives every event', async () => {
    await using sim = await startSimulator({ watchWindow: 5, bookmarkEveryMs: 60_000 });
    const dir = mkdtempSync(join(tmpdir(), 'sim-retention-'));
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, await sim.adminKubeconfig());
    const http = createKubeHttp(loadKubeConfig({ kubeconfigPath, inCluster: false }));
    const abort = new AbortController();
    const received = new Set<string>();
    const relists: string[] = [];
    let waiter: (() => void) | undefined;
    const until = async (predicate: () => boolean) => {
      while (!predicate()) await new Promise<void>((resolve) => (waiter = resolve));
    };
    let established = 0;
    const running = runEventWatch({
      http,
      signal: abort.signal,
      log: silentLogger,
      initialBackoffMs: 20,
      observer: {
        onRelist: (reason) => relists.push(reason),
        onEstablished: () => {
          established++;
          waiter?.();
        },
      },
      sink: (e: KubeEvent) => {
        const meta = e.metadata as { name: string; resourceVersion: string };
        received.add(`${meta.name}@${meta.resourceVersion}`);
        waiter?.();
      },
    });
    try {
      await until(() => established === 1);
      const first = sim.createEvent(event('a.1'));
      await until(() => received.size === 1);
      // The watch drops; before it reconnects, more than the window is written.
      sim.closeWatches();
      const later = ['b.1', 'c.1', 'd.1', 'e.1', 'f.1', 'g.1', 'h.1'].map((name) => sim.createEvent(event(name)));
      await until(() => received.size === 8);
      expect([...received].sort()).toEqual([first, ...later].map((e) => `${e.metadata.name}@${e.metadata.resourceVersion}`).sort());
      expect(relists).toEqual(['start', 'expired']);
    } finally {
      abort.abort();
      await running;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
