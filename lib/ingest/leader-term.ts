import type { IngesterConfig } from '../runtime/config.ts';
import { errorFields, type Logger } from '../runtime/log.ts';
import type { KubeHttp } from '../kube/client.ts';
import type { Sql } from '../storage/db.ts';
import { runMaintenanceLoop } from '../storage/partition-maintenance.ts';
import { runEventWatch } from './event-watch.ts';
import type { IngesterMetrics } from './metrics.ts';
import type { IngestPipeline } from './pipeline.ts';
import { loadCheckpoints, type CheckpointTracker } from './watch-checkpoint.ts';
import type { WatchProgress } from './watch-progress.ts';

/** What a leader does while it leads: watch the events and maintain the partitions. */
export interface LeaderTerms {
  /** Starts a term's watches (one per namespace, or one for all), checkpoint saves and maintenance. */
  start(): void;
  /** Ends the running term, if any: stops its work and waits for the rows it queued to settle. */
  end(): Promise<void>;
}

/** Dependencies of {@link createLeaderTerms}. */
export interface LeaderTermDeps {
  config: IngesterConfig;
  http: KubeHttp;
  sql: Sql;
  clusterName: string;
  log: Logger;
  pipeline: IngestPipeline;
  progress: WatchProgress;
  metrics: IngesterMetrics;
  checkpointEveryMs: number;
  watchTimeoutSeconds?: number;
}

/** Creates the start/end pair the leader election calls on election and demotion. */
export function createLeaderTerms(deps: LeaderTermDeps): LeaderTerms {
  const namespaces: (string | undefined)[] = deps.config.namespaces.length > 0 ? deps.config.namespaces : [undefined];
  let term: { abort: AbortController; done: Promise<unknown> } | undefined;
  return {
    start() {
      const abort = new AbortController();
      const tracker = deps.progress.beginTerm(namespaces.map((ns) => ns ?? '*'));
      const checkpointTimer = setInterval(() => void deps.progress.save(), deps.checkpointEveryMs);
      abort.signal.addEventListener('abort', () => clearInterval(checkpointTimer), { once: true });
      const watches = namespaces.map((namespace) => watchNamespace(deps, namespace, tracker, abort.signal));
      const maintenance = runMaintenanceLoop({
        sql: deps.sql,
        settings: deps.config,
        intervalMs: deps.config.maintenanceIntervalMs,
        log: deps.log,
        signal: abort.signal,
      });
      term = { abort, done: Promise.allSettled([...watches, maintenance]) };
    },
    async end() {
      const current = term;
      term = undefined;
      if (!current) return;
      current.abort.abort();
      await current.done;
      // Lookups have their own timeout; this bound keeps a hung one from holding up the drain.
      await Promise.race([deps.pipeline.settle(), Bun.sleep(Math.min(10_000, deps.config.shutdownTimeoutMs))]);
    },
  };
}

// One watch of a term, resuming from the stored checkpoint of its scope when there is one.
async function watchNamespace(deps: LeaderTermDeps, namespace: string | undefined, tracker: CheckpointTracker, signal: AbortSignal): Promise<void> {
  const scope = namespace ?? '*';
  const stored = await loadCheckpoints(deps.sql, deps.clusterName).catch((err: unknown) => {
    deps.log.warn('checkpoints not readable, listing instead', errorFields(err));
    return new Map<string, string>();
  });
  return runEventWatch({
    http: deps.http,
    namespace,
    tracker,
    resumeFrom: stored.get(scope),
    sink: (event, source, ticket) => deps.pipeline.accept(event, source, ticket),
    signal,
    log: deps.log,
    watchTimeoutSeconds: deps.watchTimeoutSeconds,
    observer: {
      onEstablished: () => deps.progress.setEstablished(scope, true),
      onReconnect: () => {
        deps.progress.setEstablished(scope, false);
        deps.metrics.reconnected(scope);
      },
      onRelist: (reason) => deps.metrics.relisted(scope, reason),
    },
  });
}
