import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster } from './cluster.ts';
import { coreVersions, group, groupList, resourceList, serverVersion } from './discovery.ts';
import type { Faults } from './faults.ts';
import { parseJsonObject, readBody, sendError, sendJson } from './http.ts';
import { decodeReview, protobufContentType } from './proto.ts';
import type { Rbac } from './rbac.ts';
import { handleResource, parseResourcePath } from './resources.ts';
import { reviewAccess, reviewRules, reviewSelf } from './reviews.ts';
import { ApiError, unauthorized, unknownPath } from './status.ts';
import type { Identity } from './types.ts';
import type { WatchHub } from './watch.ts';

/** What the simulator remembers of each request, for tests that count calls. */
export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  /** Undefined when the request carried no valid credentials. */
  username: string | undefined;
}

export interface RouterDeps {
  cluster: Cluster;
  rbac: Rbac;
  watches: WatchHub;
  faults: Faults;
  /** Bearer tokens accepted in addition to client certificates. */
  tokens: ReadonlyMap<string, Identity>;
  /** `host:port` of the listening server, for `/api`'s serverAddressByClientCIDRs. */
  serverAddress: () => string;
  onRequest: (record: RequestRecord) => void;
}

/** A request handler for the node:http server; `certIdentity` comes from the TLS client certificate. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, certIdentity: Identity | undefined) => void;

const publicPaths = new Set(['/version', '/healthz', '/livez', '/readyz']);

const reviewPaths = {
  '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews': { kind: 'SelfSubjectAccessReview', answer: reviewAccess },
  '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews': { kind: 'SelfSubjectRulesReview', answer: reviewRules },
  '/apis/authentication.k8s.io/v1/selfsubjectreviews': { kind: 'SelfSubjectReview', answer: reviewSelf },
} as const;

function authenticate(req: IncomingMessage, tokens: ReadonlyMap<string, Identity>, cert: Identity | undefined) {
  let found = cert;
  if (!found) {
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    found = match?.[1] ? tokens.get(match[1]) : undefined;
  }
  return found && { username: found.username, groups: [...found.groups, 'system:authenticated'] };
}

/** Creates the request handler: fault injection, authentication, discovery, reviews, resources. */
export function createRouter(deps: RouterDeps): RequestHandler {
  const route = async (req: IncomingMessage, res: ServerResponse, certIdentity: Identity | undefined) => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const method = req.method ?? 'GET';
    const identity = authenticate(req, deps.tokens, certIdentity);
    deps.onRequest({ method, path: url.pathname, query: url.search, username: identity?.username });

    deps.faults.check(url.pathname);
    if (publicPaths.has(url.pathname) && method === 'GET') {
      return url.pathname === '/version' ? sendJson(res, 200, serverVersion) : sendText(res, 'ok');
    }
    if (!identity) throw unauthorized();

    const review = reviewPaths[url.pathname as keyof typeof reviewPaths];
    if (review) {
      if (method !== 'POST') throw new ApiError(405, 'only POST is allowed', 'MethodNotAllowed');
      const raw = await readBody(req);
      // kubectl sends reviews as protobuf; the reply is JSON, which it also accepts.
      const isProtobuf = (req.headers['content-type'] ?? '').startsWith(protobufContentType);
      const body =
        review.kind === 'SelfSubjectReview' ? {} : isProtobuf ? decodeReview(review.kind, raw) : parseJsonObject(raw);
      return sendJson(res, 201, review.answer(deps.rbac, identity, body));
    }
    const resourcePath = parseResourcePath(url.pathname);
    if (resourcePath) return handleResource(deps, req, res, url, resourcePath, identity);

    if (method !== 'GET') throw new ApiError(405, 'the server does not allow this method', 'MethodNotAllowed');
    const discovery = discover(deps, url.pathname);
    if (!discovery) throw unknownPath();
    if (!deps.rbac.authorizeNonResource(identity, 'get', url.pathname).allowed) {
      throw new ApiError(403, `forbidden: User "${identity.username}" cannot get path "${url.pathname}"`, 'Forbidden');
    }
    return sendJson(res, 200, discovery);
  };

  return (req, res, certIdentity) => {
    route(req, res, certIdentity).catch((error: unknown) => sendError(res, error));
  };
}

function discover(deps: RouterDeps, pathname: string): object | undefined {
  const parts = pathname.split('/').filter(Boolean);
  const registry = deps.cluster.registry;
  if (parts[0] === 'api') {
    if (parts.length === 1) return coreVersions(deps.serverAddress());
    if (parts.length === 2 && parts[1]) return resourceList(registry, '', parts[1]);
  }
  if (parts[0] === 'apis') {
    if (parts.length === 1) return groupList(registry);
    if (parts.length === 2 && parts[1]) return group(registry, parts[1]);
    if (parts.length === 3 && parts[1] && parts[2]) return resourceList(registry, parts[1], parts[2]);
  }
  return undefined;
}

function sendText(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
