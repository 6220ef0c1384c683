/**
 * Kubernetes API simulator for tests and the local demo cluster.
 *
 * A real HTTPS (or plain HTTP) server on 127.0.0.1 that speaks the subset of the API the
 * stack uses: discovery, core/v1 Events list/watch with resourceVersions, paging, bookmarks,
 * compaction and 410 Gone, GET of any registered object (built-ins, leases,
 * `*.composition.krateo.io` kinds registered on the fly), Secrets, Self{Subject,Rules}Reviews
 * answered from a per-user/per-group RBAC table, and TLS client-certificate or bearer-token
 * authentication. Checked against @kubernetes/client-node 1.4.0 and kubectl.
 *
 *   await using sim = await startSimulator();
 *   sim.setRbac('alice', [{ verbs: ['list', 'watch'], resources: ['events'], namespaces: ['team-a'] }]);
 *   const kubeconfig = await sim.kubeconfigFor('alice');
 *   sim.createEvent({ metadata: { namespace: 'team-a', name: 'web.1' }, reason: 'Started' });
 */
import { randomBytes } from 'node:crypto';
import type { CertificatePair } from './ca.ts';
import { createCertificateAuthority } from './ca.ts';
import { createCluster } from './cluster.ts';
import { createFaults } from './faults.ts';
import { startFrontend } from './frontend.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { createRbac, mastersGroup } from './rbac.ts';
import type { RequestRecord } from './router.ts';
import { createRouter } from './router.ts';
import type { StoreStats } from './store.ts';
import type { Identity, KubeObject, RbacRule, StoredObject } from './types.ts';
import { createWatchHub } from './watch.ts';

export type { CertificatePair } from './ca.ts';
export type { RequestRecord } from './router.ts';
export type { StoreStats } from './store.ts';
export { ApiError } from './status.ts';
export type { Identity, KubeObject, ObjectMeta, RbacRule, StoredObject, WatchEventType } from './types.ts';

export interface SimulatorOptions {
  /** Serve HTTPS with client-certificate auth (default true); false serves plain HTTP, tokens only. */
  tls?: boolean;
  /** How long a watch without `timeoutSeconds` stays open before it ends cleanly (default 300). */
  watchTimeoutSeconds?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 1000 ms). */
  bookmarkEveryMs?: number;
  /** Port on 127.0.0.1 (default 0: any free port). A fixed port gives a demo cluster a stable URL. */
  port?: number;
  /**
   * Changes each resource keeps for watches and lists at older versions, like the API server's
   * watch cache; older ones are compacted (410 Gone). Default: every change, forever.
   */
  watchWindow?: number;
  /**
   * Events not written for this long are deleted, watchers getting DELETED, like the API server's
   * `--event-ttl` (default: never). Expiry happens at the next write or read of Events.
   */
  eventTtlSeconds?: number;
}

/** A running Kubernetes API simulator on 127.0.0.1; dispose it to stop it. */
export interface Simulator extends AsyncDisposable {
  readonly url: string;
  /** PEM of the CA that signed the serving certificate and every client certificate. */
  readonly caPem: string;
  /** A client certificate: CN = username, one O per group, signed by `caPem`. */
  issueClientCert(username: string, groups?: string[]): Promise<CertificatePair>;
  /** A kubeconfig (YAML) for the user: client certificate over HTTPS, a bearer token over HTTP. */
  kubeconfigFor(username: string, groups?: string[]): Promise<string>;
  /** A kubeconfig for `admin` in group `system:masters`, which may do everything. */
  adminKubeconfig(): Promise<string>;
  /** Accepts `Authorization: Bearer <token>` as the given user. */
  addToken(token: string, username: string, groups?: string[]): void;

  /** Stores a new core/v1 Event (uid, resourceVersion, creationTimestamp assigned; name generated if absent). */
  createEvent(event: KubeObject): StoredObject;
  /** Replaces an existing Event (e.g. a count bump) under a new resourceVersion; throws 404 if missing. */
  updateEvent(event: KubeObject): StoredObject;
  /** Deletes an Event; watchers get DELETED with a new resourceVersion. */
  deleteEvent(namespace: string, name: string): StoredObject;
  /**
   * Every Event version created or updated, oldest first (deletions are not versions); with
   * `watchWindow` only those of the changes still held.
   */
  history(): StoredObject[];
  /** Counts of the Events store: versions and deletions ever written, objects and changes held. */
  eventStats(): StoreStats;
  /** Compacts history: lists and watches from an older resourceVersion now get 410 Gone. */
  compact(): void;
  /** The cluster's newest resourceVersion. */
  resourceVersion(): string;

  /** Creates or replaces any object; unknown kinds are registered (plural = lowercase kind + "s"). */
  setObject(object: KubeObject): StoredObject;
  /** Deletes an object; `namespace` is ignored for cluster-scoped kinds. Throws 404 if missing. */
  deleteObject(apiVersion: string, kind: string, namespace: string | undefined, name: string): StoredObject;
  /** Creates or replaces an Opaque Secret; `data` values are plain strings, stored base64. */
  setSecret(namespace: string, name: string, data: Record<string, string>): StoredObject;
  deleteSecret(namespace: string, name: string): StoredObject;

  /** Replaces the user's RBAC rules. */
  setRbac(username: string, rules: RbacRule[]): void;
  /** Replaces the group's RBAC rules. */
  setGroupRbac(group: string, rules: RbacRule[]): void;

  /** The next `count` requests (whose path contains `match`, when given) fail with `status`. */
  failNext(count: number, status?: number, match?: string | RegExp): void;
  /** While on, every request gets 503; turning it on also drops open watches. */
  setOutage(on: boolean): void;
  /** Drops every open watch connection abruptly. */
  closeWatches(): void;
  /** Number of watch streams currently open. */
  openWatches(): number;
  /** The most recent requests (up to 10,000), oldest first. */
  requests(): RequestRecord[];
  close(): Promise<void>;
}

const maxRecords = 10_000;

/** Starts a simulator on 127.0.0.1 (port 0) with an empty cluster and an empty RBAC table. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const useTls = options.tls ?? true;
  const ca = await createCertificateAuthority();
  const cluster = createCluster({
    ...(options.watchWindow !== undefined && { watchWindow: options.watchWindow }),
    ...(options.eventTtlSeconds !== undefined && { eventTtlMs: options.eventTtlSeconds * 1000 }),
  });
  const rbac = createRbac();
  const faults = createFaults();
  const tokens = new Map<string, Identity>();
  const records: RequestRecord[] = [];
  const watches = createWatchHub({
    clock: cluster.clock,
    defaultTimeoutSeconds: options.watchTimeoutSeconds ?? 300,
    bookmarkEveryMs: options.bookmarkEveryMs ?? 1000,
  });
  let address = '';
  const router = createRouter({
    cluster,
    rbac,
    watches,
    faults,
    tokens,
    serverAddress: () => address,
    onRequest(record) {
      records.push(record);
      if (records.length > maxRecords) records.splice(0, records.length - maxRecords);
    },
  });
  const frontend = await startFrontend(useTls ? { ...ca.server, caPem: ca.caPem } : undefined, options.port ?? 0, router);
  address = frontend.address;

  const events = cluster.storeForKind('v1', 'Event');
  const secrets = cluster.storeForKind('v1', 'Secret');
  const issuedTokens = new Map<string, string>();
  let closed: Promise<void> | undefined;

  const kubeconfigFor = async (username: string, groups: string[] = []) => {
    if (useTls) {
      const { certPem, keyPem } = await ca.issueClientCert(username, groups);
      return renderKubeconfig({ server: frontend.url, caPem: ca.caPem, username, certPem, keyPem });
    }
    const key = JSON.stringify([username, groups]);
    let token = issuedTokens.get(key);
    if (!token) {
      token = randomBytes(24).toString('base64url');
      issuedTokens.set(key, token);
      tokens.set(token, { username, groups });
    }
    return renderKubeconfig({ server: frontend.url, username, token });
  };

  const close = () => {
    closed ??= (async () => {
      watches.abortAll();
      await frontend.close();
    })();
    return closed;
  };

  return {
    url: frontend.url,
    caPem: ca.caPem,
    issueClientCert: (username, groups = []) => ca.issueClientCert(username, groups),
    kubeconfigFor,
    adminKubeconfig: () => kubeconfigFor('admin', [mastersGroup]),
    addToken: (token, username, groups = []) => void tokens.set(token, { username, groups: [...groups] }),

    createEvent: (event) => events.create(event),
    updateEvent: (event) => events.update(event),
    deleteEvent: (namespace, name) => events.remove(namespace, name),
    history: () => events.changes().flatMap((c) => (c.type === 'DELETED' ? [] : [JSON.parse(c.json) as StoredObject])),
    eventStats: () => events.stats(),
    compact: () => cluster.clock.compact(),
    resourceVersion: () => String(cluster.clock.current()),

    setObject: (object) => cluster.storeForObject(object).upsert(object),
    deleteObject: (apiVersion, kind, namespace, name) =>
      cluster.storeForKind(apiVersion, kind).remove(namespace ?? '', name),
    setSecret: (namespace, name, data) =>
      secrets.upsert({
        metadata: { namespace, name },
        type: 'Opaque',
        data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      }),
    deleteSecret: (namespace, name) => secrets.remove(namespace, name),

    setRbac: (username, rules) => rbac.setUserRules(username, rules),
    setGroupRbac: (group, rules) => rbac.setGroupRules(group, rules),

    failNext: (count, status = 500, match) => faults.failNext(count, status, match),
    setOutage(on) {
      faults.setOutage(on);
      if (on) watches.abortAll();
    },
    closeWatches: () => watches.abortAll(),
    openWatches: () => watches.count(),
    requests: () => [...records],
    close,
    [Symbol.asyncDispose]: close,
  };
}
