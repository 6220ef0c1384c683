// Two clusters, one database: each user's rights in a cluster come from that cluster's API server
// only (docs/decisions/010-clusters-and-api-servers.md). The presenter runs in `dev`; `prod` is a
// second simulator with its own CA and RBAC; `edge` maps to the prod simulator with the users'
// main clientconfig (shared identity); rows of `staging` have no mapping.
import { describe, expect, test } from 'bun:test';
import type { EventsPage } from '../lib/presenter/core/wire.ts';
import { startSimulator, type RbacRule, type Simulator } from '../dev/simulator/index.ts';
import { buildRecord } from './support/builders.ts';
import { authnNamespace, listEventsIn, startPresenterHarness, tokenFor, type PresenterHarness } from './support/presenter-harness.ts';
import { openSse, type SseClient } from './support/sse-client.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const clusters = ['dev', 'prod', 'edge', 'staging'] as const;
const namespaces = ['team-a', 'team-b', 'team-c'] as const;

interface Clusters extends AsyncDisposable {
  h: PresenterHarness;
  prod: Simulator;
  /** Gives the user rights in dev (its main clientconfig, a dev certificate) and returns a token. */
  addDevUser(username: string, rules: RbacRule[]): Promise<string>;
  /** Writes `<username>-prod-clientconfig` (a prod certificate; its `server-url` names dev on purpose) and prod RBAC. */
  addProdUser(username: string, rules: RbacRule[]): Promise<void>;
}

async function startClusters(): Promise<Clusters> {
  const prod = await startSimulator();
  const h = await startPresenterHarness({
    clusterName: 'dev',
    remoteClusters: [
      { name: 'prod', serverUrl: prod.url, caPem: prod.caPem, secretNameTemplate: '{username}-prod-clientconfig' },
      { name: 'edge', serverUrl: prod.url, caPem: prod.caPem, secretNameTemplate: '{username}-clientconfig' },
    ],
  });
  return {
    h,
    prod,
    addDevUser: (username, rules) => h.addUser(username, rules),
    async addProdUser(username, rules) {
      const { certPem, keyPem } = await prod.issueClientCert(username);
      h.sim.setSecret(authnNamespace, `${username}-prod-clientconfig`, {
        'server-url': h.sim.url,
        'certificate-authority-data': b64(h.sim.caPem),
        'client-certificate-data': b64(certPem),
        'client-key-data': b64(keyPem),
      });
      prod.setRbac(username, rules);
    },
    async [Symbol.asyncDispose]() {
      await h[Symbol.asyncDispose]();
      await prod.close();
    },
  };
}

const nameOf = (cluster: string, namespace: string) => `${cluster}/${namespace}`;
const recordIn = (cluster: string, namespace: string, uid = crypto.randomUUID()) =>
  buildRecord({ cluster_name: cluster, uid, global_uid: `${cluster}:${uid}`, namespace, resource_name: nameOf(cluster, namespace) });

/** One row per (cluster, namespace), in one statement; returns name → seq. */
async function insertMatrix(h: PresenterHarness): Promise<Map<string, number>> {
  const records = clusters.flatMap((c) => namespaces.map((ns) => recordIn(c, ns)));
  const seqs = await h.insert(...records);
  return new Map(records.map((r, i) => [r.resource_name, seqs[i]!]));
}

// What each user may see of the matrix, and the rights that give it.
const expected: Record<string, string[]> = {
  // team-a in dev, team-b in prod (its own prod Secret); its dev certificate means nothing to edge.
  alice: ['dev/team-a', 'prod/team-b'],
  // Cluster-wide in dev, nothing in prod.
  carol: ['dev/team-a', 'dev/team-b', 'dev/team-c'],
  // team-c in dev, cluster-wide in prod.
  dave: ['dev/team-c', 'prod/team-a', 'prod/team-b', 'prod/team-c'],
  // Cluster-wide in dev and no prod Secret at all: prod is denied, dev still shown.
  erin: ['dev/team-a', 'dev/team-b', 'dev/team-c'],
  // A token both API servers accept (shared identity): team-a in dev, team-b in prod's RBAC, which
  // `edge` asks with the main clientconfig; no prod Secret, so nothing of `prod`.
  bob: ['dev/team-a', 'edge/team-b'],
};

async function addUsers(c: Clusters): Promise<Record<string, string>> {
  const tokens: Record<string, string> = {};
  tokens.alice = await c.addDevUser('alice', listEventsIn(['team-a']));
  await c.addProdUser('alice', listEventsIn(['team-b']));
  tokens.carol = await c.addDevUser('carol', listEventsIn());
  await c.addProdUser('carol', []);
  tokens.dave = await c.addDevUser('dave', listEventsIn(['team-c']));
  await c.addProdUser('dave', listEventsIn());
  tokens.erin = await c.addDevUser('erin', listEventsIn());
  c.h.sim.addToken('bob-token', 'bob');
  c.prod.addToken('bob-token', 'bob');
  c.h.sim.setSecret(authnNamespace, 'bob-clientconfig', {
    'server-url': c.h.sim.url,
    'certificate-authority-data': b64(c.h.sim.caPem),
    token: 'bob-token',
  });
  c.h.sim.setRbac('bob', listEventsIn(['team-a']));
  c.prod.setRbac('bob', listEventsIn(['team-b']));
  tokens.bob = tokenFor('bob');
  return tokens;
}

const getEvents = async (h: PresenterHarness, token: string, query = '') => {
  const response = await fetch(`${h.url}/events${query}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await response.json()) as EventsPage;
  return { status: response.status, names: body.resources.map((r) => r.resource_name).sort() };
};

/** The matrix rows a stream received before its first row above `matrixMax`. */
async function receivedOfMatrix(stream: SseClient, seqToName: Map<number, string>, matrixMax: number): Promise<string[]> {
  const frames = await stream.until((f) => f.event === 'krateo' && Number(f.id) > matrixMax, 10_000);
  return frames
    .filter((f) => f.event === 'krateo' && Number(f.id) <= matrixMax)
    .map((f) => seqToName.get(Number(f.id)) ?? `unknown seq ${f.id}`)
    .sort();
}

/** Rows after the matrix that each user sees one of (dev/team-a, dev/team-c, edge/team-b), so every stream has an end marker. */
const insertClosingRows = (h: PresenterHarness) => h.insert(recordIn('dev', 'team-a'), recordIn('dev', 'team-c'), recordIn('edge', 'team-b'));

describe('authorisation across clusters', () => {
  test('/events shows each user only what each cluster allows it, and nothing of an unmapped cluster', async () => {
    await using c = await startClusters();
    const tokens = await addUsers(c);
    await insertMatrix(c.h);
    for (const [user, names] of Object.entries(expected)) {
      expect({ user, ...(await getEvents(c.h, tokens[user]!)) }).toEqual({ user, status: 200, names });
    }
    // Filters narrow within what is allowed; they never widen it.
    expect(await getEvents(c.h, tokens.alice!, '?cluster=prod')).toEqual({ status: 200, names: ['prod/team-b'] });
    expect(await getEvents(c.h, tokens.alice!, '?cluster=prod&namespace=team-a')).toEqual({ status: 200, names: [] });
    expect(await getEvents(c.h, tokens.carol!, '?cluster=prod')).toEqual({ status: 200, names: [] });
    expect(await getEvents(c.h, tokens.dave!, '?namespace=team-a')).toEqual({ status: 200, names: ['prod/team-a'] });
    expect(await getEvents(c.h, tokens.carol!, '?cluster=staging')).toEqual({ status: 200, names: [] });
  });

  test('live streams deliver each user only what each cluster allows it', async () => {
    await using c = await startClusters();
    const tokens = await addUsers(c);
    const streams = new Map<string, SseClient>();
    try {
      for (const user of Object.keys(expected)) {
        const stream = await openSse(`${c.h.url}/notifications`, { authorization: `Bearer ${tokens[user]}` });
        await stream.next();
        streams.set(user, stream);
      }
      const matrix = await insertMatrix(c.h);
      await insertClosingRows(c.h);
      const seqToName = new Map([...matrix].map(([name, seq]) => [seq, name]));
      const matrixMax = Math.max(...matrix.values());
      for (const [user, names] of Object.entries(expected)) {
        expect({ user, names: await receivedOfMatrix(streams.get(user)!, seqToName, matrixMax) }).toEqual({ user, names });
      }
    } finally {
      for (const stream of streams.values()) stream.close();
    }
  });

  test('replay after Last-Event-ID authorises every row again per cluster', async () => {
    await using c = await startClusters();
    const tokens = await addUsers(c);
    const matrix = await insertMatrix(c.h);
    await insertClosingRows(c.h);
    const seqToName = new Map([...matrix].map(([name, seq]) => [seq, name]));
    const matrixMin = Math.min(...matrix.values());
    const matrixMax = Math.max(...matrix.values());
    for (const [user, names] of Object.entries(expected)) {
      await using stream = await openSse(`${c.h.url}/notifications`, {
        authorization: `Bearer ${tokens[user]}`,
        'last-event-id': String(matrixMin - 1),
      });
      expect({ user, names: await receivedOfMatrix(stream, seqToName, matrixMax) }).toEqual({ user, names });
    }
  });

  test('a deleted per-cluster Secret stops that cluster for its user at the next guard pass, with a credentials_revoked resume frame; other users keep it', async () => {
    await using c = await startClusters();
    const tokens = await addUsers(c);
    const open = (user: string, lastEventId?: string) =>
      openSse(`${c.h.url}/notifications`, { authorization: `Bearer ${tokens[user]}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) });
    await using alice = await open('alice');
    await using dave = await open('dave');
    await alice.next();
    await dave.next();
    // Both may see prod/team-b (alice from her prod Secret's RBAC, dave cluster-wide in prod).
    const [before] = await c.h.insert(recordIn('prod', 'team-b'));
    expect([(await alice.next()).id, (await dave.next()).id]).toEqual([String(before), String(before)]);
    expect(await getEvents(c.h, tokens.alice!, '?cluster=prod')).toEqual({ status: 200, names: ['prod/team-b'] });

    c.h.sim.deleteSecret(authnNamespace, 'alice-prod-clientconfig');
    await c.h.presenter.checkSessions();
    const [resume] = await alice.until((f) => f.event === 'resume');
    expect({ event: resume!.event, data: JSON.parse(resume!.data!) }).toEqual({ event: 'resume', data: { last_event_id: String(before), reason: 'credentials_revoked' } });

    // Her main Secret is still there: she resumes, and gets dev rows but nothing more of prod.
    const [prodRow, devRow, daveRow] = await c.h.insert(recordIn('prod', 'team-b'), recordIn('dev', 'team-a'), recordIn('dev', 'team-c'));
    await using resumed = await open('alice', String(before));
    const aliceFrames = await resumed.until((f) => f.id === String(devRow), 10_000);
    expect(aliceFrames.filter((f) => f.event === 'krateo').map((f) => f.id)).toEqual([String(devRow)]);
    const daveFrames = await dave.until((f) => f.id === String(daveRow), 10_000);
    expect(daveFrames.filter((f) => f.event === 'krateo').map((f) => f.id)).toEqual([String(prodRow), String(daveRow)]);
    expect(await getEvents(c.h, tokens.alice!, '?cluster=prod')).toEqual({ status: 200, names: [] });
    expect(await getEvents(c.h, tokens.dave!, '?cluster=prod')).toEqual({ status: 200, names: ['prod/team-b', 'prod/team-b'] });
  });
});
