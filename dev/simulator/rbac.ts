import type { Identity, RbacRule } from './types.ts';

/** What one request wants to do, in RBAC terms. `namespace` "" means cluster scope / all namespaces. */
export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  namespace: string;
  name?: string;
  subresource?: string;
}

/** The outcome of an authorization check, with the reason the API server would give. */
export interface Decision {
  allowed: boolean;
  reason: string;
}

/** A rule as SelfSubjectRulesReview reports it. */
export interface ResourceRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
}

/** The RBAC table: rules per user and per group, `system:masters` allowed everything. */
export interface Rbac {
  /** Replaces every rule of `username` (an empty list revokes everything). */
  setUserRules(username: string, rules: RbacRule[]): void;
  /** Replaces every rule of `group`. */
  setGroupRules(group: string, rules: RbacRule[]): void;
  authorize(identity: Identity, attributes: ResourceAttributes): Decision;
  /** Whether the caller may `verb` the non-resource URL `path` (discovery is open to everyone signed in). */
  authorizeNonResource(identity: Identity, verb: string, path: string): Decision;
  /** The rules that apply to `identity` in `namespace`, as SelfSubjectRulesReview lists them. */
  rulesFor(identity: Identity, namespace: string): ResourceRule[];
}

export const mastersGroup = 'system:masters';

/** What every authenticated user may do, like the API server's system:basic-user role. */
const basicRules: RbacRule[] = [
  {
    verbs: ['create'],
    apiGroups: ['authorization.k8s.io'],
    resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
  },
];

const discoveryPaths = ['/api', '/api/*', '/apis', '/apis/*', '/version', '/healthz', '/livez', '/readyz', '/openapi/*'];

const matches = (allowed: string[] | undefined, value: string) =>
  allowed === undefined || allowed.includes('*') || allowed.includes(value);

function ruleMatches(rule: RbacRule, attributes: ResourceAttributes): boolean {
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  if (!rule.verbs.includes('*') && !rule.verbs.includes(attributes.verb)) return false;
  if (!matches(rule.apiGroups, attributes.group)) return false;
  if (!rule.resources.includes('*') && !rule.resources.includes(resource)) return false;
  if (rule.namespaces !== undefined && !(attributes.namespace && rule.namespaces.includes(attributes.namespace))) {
    return false;
  }
  if (rule.resourceNames !== undefined && !(attributes.name && rule.resourceNames.includes(attributes.name))) {
    return false;
  }
  return true;
}

function pathMatches(pattern: string, path: string): boolean {
  return pattern === '*' || pattern === path || (pattern.endsWith('*') && path.startsWith(pattern.slice(0, -1)));
}

/** Creates an empty RBAC table. */
export function createRbac(): Rbac {
  const users = new Map<string, RbacRule[]>();
  const groups = new Map<string, RbacRule[]>();

  const sources = (identity: Identity) => {
    const found: Array<{ subject: string; rules: RbacRule[] }> = [{ subject: 'basic-user', rules: basicRules }];
    const own = users.get(identity.username);
    if (own) found.push({ subject: `User "${identity.username}"`, rules: own });
    for (const group of identity.groups) {
      const rules = groups.get(group);
      if (rules) found.push({ subject: `Group "${group}"`, rules });
    }
    return found;
  };

  return {
    setUserRules: (username, rules) => void users.set(username, structuredClone(rules)),
    setGroupRules: (group, rules) => void groups.set(group, structuredClone(rules)),
    authorize(identity, attributes) {
      if (identity.groups.includes(mastersGroup)) {
        return { allowed: true, reason: `RBAC: allowed by group "${mastersGroup}"` };
      }
      for (const { subject, rules } of sources(identity)) {
        if (rules.some((rule) => ruleMatches(rule, attributes))) {
          return { allowed: true, reason: `RBAC: allowed by simulator rules of ${subject}` };
        }
      }
      return { allowed: false, reason: '' };
    },
    authorizeNonResource(identity, verb, path) {
      if (identity.groups.includes(mastersGroup)) return { allowed: true, reason: `RBAC: allowed by group "${mastersGroup}"` };
      const allowed = verb === 'get' && discoveryPaths.some((pattern) => pathMatches(pattern, path));
      return { allowed, reason: allowed ? 'RBAC: allowed by discovery rules' : '' };
    },
    rulesFor(identity, namespace) {
      if (identity.groups.includes(mastersGroup)) return [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }];
      const applicable: ResourceRule[] = [];
      for (const { rules } of sources(identity)) {
        for (const rule of rules) {
          if (rule.namespaces !== undefined && !rule.namespaces.includes(namespace)) continue;
          applicable.push({
            verbs: [...rule.verbs],
            apiGroups: rule.apiGroups ? [...rule.apiGroups] : ['*'],
            resources: [...rule.resources],
            ...(rule.resourceNames ? { resourceNames: [...rule.resourceNames] } : {}),
          });
        }
      }
      return applicable;
    },
  };
}

/** The message of a 403, worded like the API server's. */
export function forbiddenMessage(identity: Identity, attributes: ResourceAttributes): string {
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  const qualified = attributes.group ? `${attributes.resource}.${attributes.group}` : attributes.resource;
  const named = attributes.name ? ` "${attributes.name}"` : '';
  const scope = attributes.namespace ? `in the namespace "${attributes.namespace}"` : 'at the cluster scope';
  return `${qualified}${named} is forbidden: User "${identity.username}" cannot ${attributes.verb} resource "${resource}" in API group "${attributes.group}" ${scope}`;
}
