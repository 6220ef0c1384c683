/** Metadata the simulator reads or assigns; everything else is kept as given. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Any Kubernetes object as plain JSON. The simulator stores whatever fields it is given. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

/** An object as stored: identity, version and timestamps are always present. */
export interface StoredObject extends KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & {
    name: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
  };
}

/** The authenticated caller of one request. */
export interface Identity {
  username: string;
  groups: string[];
}

/** One RBAC rule of the simulator's table; `namespaces` omitted means cluster-wide. */
export interface RbacRule {
  verbs: string[];
  resources: string[];
  /** Omitted means every API group. Use `""` for the core group. */
  apiGroups?: string[];
  /** Omitted means cluster-wide, including cluster-scoped resources and all-namespace lists. */
  namespaces?: string[];
  /** Omitted means every object name. */
  resourceNames?: string[];
}

/** The type of one line of a watch stream. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
