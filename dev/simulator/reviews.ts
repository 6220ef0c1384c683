import type { Rbac } from './rbac.ts';
import { ApiError } from './status.ts';
import type { Identity } from './types.ts';

const apiVersion = 'authorization.k8s.io/v1';

const text = (value: unknown) => (typeof value === 'string' ? value : '');

const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/**
 * Answers a SelfSubjectAccessReview for `identity` from the RBAC table. The reply echoes the
 * spec and sets `status.allowed` (and `status.reason` when allowed), like the API server.
 */
export function reviewAccess(rbac: Rbac, identity: Identity, body: Record<string, unknown>): object {
  const spec = record(body.spec);
  const resource = spec.resourceAttributes === undefined ? undefined : record(spec.resourceAttributes);
  const nonResource = spec.nonResourceAttributes === undefined ? undefined : record(spec.nonResourceAttributes);
  if ((resource === undefined) === (nonResource === undefined)) {
    throw new ApiError(422, 'SelfSubjectAccessReview: exactly one of spec.resourceAttributes and spec.nonResourceAttributes must be set', 'Invalid');
  }
  const decision = resource
    ? rbac.authorize(identity, {
        verb: text(resource.verb),
        group: text(resource.group),
        resource: text(resource.resource),
        namespace: text(resource.namespace),
        ...(text(resource.name) ? { name: text(resource.name) } : {}),
        ...(text(resource.subresource) ? { subresource: text(resource.subresource) } : {}),
      })
    : rbac.authorizeNonResource(identity, text(nonResource?.verb), text(nonResource?.path));
  return {
    kind: 'SelfSubjectAccessReview',
    apiVersion,
    metadata: { creationTimestamp: null },
    spec,
    status: { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) },
  };
}

/** Answers a SelfSubjectRulesReview: the caller's resource rules in `spec.namespace`. */
export function reviewRules(rbac: Rbac, identity: Identity, body: Record<string, unknown>): object {
  const spec = record(body.spec);
  const namespace = text(spec.namespace);
  return {
    kind: 'SelfSubjectRulesReview',
    apiVersion,
    metadata: { creationTimestamp: null },
    spec: { namespace },
    status: {
      resourceRules: rbac.rulesFor(identity, namespace),
      nonResourceRules: [
        { verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/readyz', '/version'] },
      ],
      incomplete: false,
    },
  };
}

/** Answers a SelfSubjectReview (`kubectl auth whoami`) with the caller's identity. */
export function reviewSelf(_rbac: Rbac, identity: Identity): object {
  return {
    kind: 'SelfSubjectReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    status: { userInfo: { username: identity.username, groups: identity.groups } },
  };
}
