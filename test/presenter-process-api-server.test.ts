// `bun presenter.ts` as a pod runs it: KUBERNETES_SERVICE_HOST/PORT name the in-cluster API server,
// and users' reviews go there, not to the clientconfig's `server-url`, unless
// USER_REVIEWS_IN_CLUSTER=false (docs/decisions/010-clusters-and-api-servers.md).
import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../dev/simulator/index.ts';
import { signDevToken } from '../dev/tokens.ts';
import { silentLogger } from '../lib/runtime/log.ts';
import { createSql, runMigrations } from '../lib/storage/db.ts';
import { insertEventRows } from '../lib/storage/event-store.ts';
import { buildRecord } from './support/builders.ts';
import { freePort, startExecutable, waitForAnswer } from './support/executable.ts';
import { createTestDatabase } from './support/pg.ts';

const root = new URL('..', import.meta.url).pathname;
const signKey = 'process-test-signing-key-0123456789abcdef';
const authnNamespace = 'krateo-system';
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('the presenter process in a pod', () => {
  test('sends reviews to KUBERNETES_SERVICE_HOST/PORT whatever server-url says, and to server-url with USER_REVIEWS_IN_CLUSTER=false', async () => {
    await using db = await createTestDatabase();
    await using sim = await startSimulator();
    const dir = mkdtempSync(join(tmpdir(), 'events-pod-'));
    try {
      sim.setRbac('events-presenter', [{ verbs: ['get'], resources: ['secrets'], apiGroups: [''], namespaces: [authnNamespace] }]);
      const kubeconfig = join(dir, 'presenter.kubeconfig');
      writeFileSync(kubeconfig, await sim.kubeconfigFor('events-presenter'));
      // Outside a real pod there is no service-account CA file: the clientconfig's CA verifies the server.
      const { certPem, keyPem } = await sim.issueClientCert('alice');
      sim.setSecret(authnNamespace, 'alice-clientconfig', {
        'server-url': `https://127.0.0.1:${freePort()}`,
        'certificate-authority-data': b64(sim.caPem),
        'client-certificate-data': b64(certPem),
        'client-key-data': b64(keyPem),
      });
      sim.setRbac('alice', [{ verbs: ['list'], resources: ['events'], apiGroups: [''], namespaces: ['team-a'] }]);
      const token = signDevToken({ key: signKey, username: 'alice', ttlSeconds: 300 });

      const namesSeen = async (extraEnv: Record<string, string>) => {
        const port = freePort();
        await using presenter = startExecutable('bun', {
          cwd: root,
          args: ['presenter.ts'],
          env: {
            PATH: process.env.PATH ?? '',
            HOME: dir,
            DATABASE_URL: db.url,
            KUBECONFIG: kubeconfig,
            KUBERNETES_SERVICE_HOST: '127.0.0.1',
            KUBERNETES_SERVICE_PORT: new URL(sim.url).port,
            CLUSTER_NAME: 'pod-cluster',
            PORT: String(port),
            JWT_SIGN_KEY: signKey,
            AUTHN_NS: authnNamespace,
            OTEL_ENABLED: 'false',
            ...extraEnv,
          },
        });
        await waitForAnswer(`http://127.0.0.1:${port}/readyz`, presenter, (status) => status === 200);
        const response = await fetch(`http://127.0.0.1:${port}/events`, { headers: { authorization: `Bearer ${token}` } });
        const body = (await response.json()) as { resources: { resource_name: string }[] };
        expect(await presenter.stop('SIGTERM', 15_000)).toBe(0);
        return { status: response.status, names: body.resources.map((r) => r.resource_name) };
      };

      await runMigrations(db.url, { log: silentLogger });
      const sql = createSql(db.url, { max: 1 });
      await insertEventRows(sql, [
        buildRecord({ cluster_name: 'pod-cluster', global_uid: 'pod-cluster:mine', namespace: 'team-a', resource_name: 'mine' }),
        buildRecord({ cluster_name: 'pod-cluster', global_uid: 'pod-cluster:other', namespace: 'team-b', resource_name: 'other' }),
      ]);
      await sql.end();
      expect(await namesSeen({})).toEqual({ status: 200, names: ['mine'] });
      expect(await namesSeen({ USER_REVIEWS_IN_CLUSTER: 'false' })).toEqual({ status: 200, names: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
