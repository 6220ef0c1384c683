import type { Clock } from './clock.ts';
import { createClock } from './clock.ts';
import type { Registry, ResourceInfo } from './registry.ts';
import { createRegistry } from './registry.ts';
import { badRequest } from './status.ts';
import type { ResourceStore, StoreOptions } from './store.ts';
import { createResourceStore } from './store.ts';
import type { KubeObject } from './types.ts';

/** The simulated cluster's state: one clock, the kind registry and one store per resource. */
export interface Cluster {
  readonly clock: Clock;
  readonly registry: Registry;
  /** The store of `info`, created on first use. */
  store(info: ResourceInfo): ResourceStore;
  /** The store for an object's apiVersion and kind, registering an unknown kind on the fly. */
  storeForObject(object: KubeObject): ResourceStore;
  /** The store of a registered kind; 400 if the kind is unknown. */
  storeForKind(apiVersion: string, kind: string): ResourceStore;
}

/** Retention of a cluster's stores (default: keep everything). */
export interface ClusterOptions {
  /** Changes each resource keeps for watches from older versions (see {@link StoreOptions.watchWindow}). */
  watchWindow?: number;
  /** core/v1 Events not written for this long are deleted, like the API server's `--event-ttl`. */
  eventTtlMs?: number;
  now?: () => number;
}

/** Creates an empty cluster with the built-in kinds registered. */
export function createCluster(options: ClusterOptions = {}): Cluster {
  const clock = createClock();
  const registry = createRegistry();
  const stores = new Map<ResourceInfo, ResourceStore>();

  const store = (info: ResourceInfo) => {
    let found = stores.get(info);
    if (!found) {
      const isEvent = info.group === '' && info.plural === 'events';
      const storeOptions: StoreOptions = {
        ...(options.watchWindow !== undefined && { watchWindow: options.watchWindow }),
        ...(isEvent && options.eventTtlMs !== undefined && { ttlMs: options.eventTtlMs }),
        ...(options.now && { now: options.now }),
      };
      found = createResourceStore(info, clock, storeOptions);
      stores.set(info, found);
    }
    return found;
  };

  return {
    clock,
    registry,
    store,
    storeForObject(object) {
      if (!object.apiVersion || !object.kind) throw badRequest('object needs apiVersion and kind');
      const namespaced = Boolean(object.metadata?.namespace);
      return store(registry.ensureKind(object.apiVersion, object.kind, namespaced));
    },
    storeForKind(apiVersion, kind) {
      const info = registry.byKind(apiVersion, kind);
      if (!info) throw badRequest(`no kind "${kind}" is registered in version "${apiVersion}"`);
      return store(info);
    },
  };
}
