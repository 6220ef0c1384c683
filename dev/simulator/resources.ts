import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseResourceVersion } from './clock.ts';
import type { Cluster } from './cluster.ts';
import { intParam, isTrue, readJsonBody, sendJson } from './http.ts';
import type { Rbac, ResourceAttributes } from './rbac.ts';
import { forbiddenMessage } from './rbac.ts';
import type { ResourceInfo } from './registry.ts';
import { joinApiVersion } from './registry.ts';
import { ApiError, badRequest, notFound, unknownPath } from './status.ts';
import { parseIncludeObject, toTable, wantsTable } from './table.ts';
import type { Identity, KubeObject } from './types.ts';
import type { WatchHub } from './watch.ts';

/** A request path that names a resource collection or object. */
export interface ResourcePath {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
}

/**
 * Parses `/api/v1/...` and `/apis/{group}/{version}/...` resource paths; undefined for
 * discovery paths and anything else. Subresources are not served and also yield undefined.
 */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeSegment);
  let rest: string[];
  let group = '';
  let version: string | undefined;
  if (parts[0] === 'api') [version, ...rest] = parts.slice(1);
  else if (parts[0] === 'apis') [group = '', version, ...rest] = parts.slice(1);
  else return undefined;
  if (!version || rest.length === 0) return undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest.length <= 4) {
    const [, namespace, plural, name] = rest as [string, string, string, string | undefined];
    return { group, version, plural, namespace, ...(name ? { name } : {}) };
  }
  if (rest.length <= 2) {
    const [plural, name] = rest as [string, string | undefined];
    return { group, version, plural, ...(name ? { name } : {}) };
  }
  return undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`malformed path segment "${segment}"`);
  }
}

export interface ResourceDeps {
  cluster: Cluster;
  rbac: Rbac;
  watches: WatchHub;
}

function verbOf(method: string, path: ResourcePath, params: URLSearchParams): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (path.name) return 'get';
      return isTrue(params.get('watch')) ? 'watch' : 'list';
    case 'POST':
      if (path.name) throw new ApiError(405, 'create is only allowed on collections', 'MethodNotAllowed');
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return path.name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

function resolve(cluster: Cluster, path: ResourcePath): ResourceInfo {
  const info = cluster.registry.byPlural(path.group, path.version, path.plural);
  // Review kinds only support create, which the router answers before resources are resolved.
  if (!info || !info.verbs.includes('get')) throw unknownPath();
  // A namespaced name without namespace, or a namespace on a cluster-scoped kind, is no URL the server serves.
  if (info.namespaced ? path.name !== undefined && path.namespace === undefined : path.namespace !== undefined) {
    throw unknownPath();
  }
  return info;
}

/** Serves get/list/watch/create/update/delete of any registered resource, enforcing RBAC first. */
export async function handleResource(
  deps: ResourceDeps,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  path: ResourcePath,
  identity: Identity,
): Promise<void> {
  const info = resolve(deps.cluster, path);
  const method = req.method ?? 'GET';
  const params = url.searchParams;
  const attributes: ResourceAttributes = {
    verb: verbOf(method, path, params),
    group: info.group,
    resource: info.plural,
    namespace: path.namespace ?? '',
    ...(path.name ? { name: path.name } : {}),
  };
  if (!deps.rbac.authorize(identity, attributes).allowed) {
    throw new ApiError(403, forbiddenMessage(identity, attributes), 'Forbidden', {
      ...(path.name ? { name: path.name } : {}),
      ...(info.group ? { group: info.group } : {}),
      kind: info.plural,
    });
  }
  const store = deps.cluster.store(info);
  const namespace = path.namespace ?? '';
  // kubectl get asks for server-side Tables; clients that do not ask get plain objects.
  const table = wantsTable(req.headers.accept) ? parseIncludeObject(params.get('includeObject')) : undefined;

  switch (attributes.verb) {
    case 'get': {
      const found = store.get(namespace, path.name!);
      if (!found) throw notFound(info.plural, info.group, path.name!);
      return sendJson(res, 200, table ? toTable(info, [found], table) : found);
    }
    case 'list': {
      const exact = params.get('resourceVersionMatch') === 'Exact';
      const version = parseResourceVersion(params.get('resourceVersion'));
      if (Number.isNaN(version)) throw badRequest('resourceVersion: Invalid value');
      const limit = intParam(params, 'limit');
      const continueToken = params.get('continue') || undefined;
      const page = store.list({
        namespace,
        ...(limit !== undefined ? { limit } : {}),
        ...(continueToken ? { continueToken } : {}),
        ...(exact && version !== undefined ? { exactVersion: version } : {}),
      });
      const listMetadata = {
        resourceVersion: String(page.resourceVersion),
        ...(page.continueToken ? { continue: page.continueToken } : {}),
        ...(page.remainingItemCount !== undefined ? { remainingItemCount: page.remainingItemCount } : {}),
      };
      if (table) return sendJson(res, 200, toTable(info, page.items, table, { listMetadata }));
      const apiVersion = joinApiVersion(info.group, info.version);
      return sendJson(res, 200, { kind: `${info.kind}List`, apiVersion, metadata: listMetadata, items: page.items });
    }
    case 'watch': {
      const version = parseResourceVersion(params.get('resourceVersion'));
      if (Number.isNaN(version)) throw badRequest('resourceVersion: Invalid value');
      // sendInitialEvents asks for the current state first, whatever the resourceVersion.
      const initialEvents = isTrue(params.get('sendInitialEvents'));
      return deps.watches.serve(res, store, {
        namespace,
        fromVersion: initialEvents ? undefined : version,
        bookmarks: isTrue(params.get('allowWatchBookmarks')),
        initialEventsEnd: initialEvents,
        timeoutSeconds: intParam(params, 'timeoutSeconds'),
        ...(table && { transform: (object, first) => toTable(info, [object], table, { withColumns: first }) }),
      });
    }
    case 'create':
    case 'update': {
      const body = (await readJsonBody(req)) as KubeObject;
      const metadata = { ...body.metadata };
      if (path.namespace !== undefined) {
        if (metadata.namespace && metadata.namespace !== path.namespace) {
          throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
        }
        metadata.namespace = path.namespace;
      }
      if (attributes.verb === 'create') {
        return sendJson(res, 201, store.create({ ...body, metadata }));
      }
      if (metadata.name !== path.name) throw badRequest('the name of the object does not match the name on the URL');
      const expectVersion = metadata.resourceVersion;
      return sendJson(res, 200, store.update({ ...body, metadata }, expectVersion ? { expectVersion } : {}));
    }
    case 'delete':
      return sendJson(res, 200, store.remove(namespace, path.name!));
    default:
      throw new ApiError(405, `the server does not allow this method on the requested resource`, 'MethodNotAllowed');
  }
}
