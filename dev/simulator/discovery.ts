import type { Registry, ResourceInfo } from './registry.ts';
import { joinApiVersion } from './registry.ts';

/** The server version the simulator claims; kubectl 1.32 accepts it without skew warnings. */
export const serverVersion = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-events-stack-simulator',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** `GET /api`: the core group's versions. */
export function coreVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupVersions(registry: Registry): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const info of registry.all()) {
    if (!info.group) continue;
    const versions = groups.get(info.group) ?? [];
    if (!versions.includes(info.version)) versions.push(info.version);
    groups.set(info.group, versions);
  }
  return groups;
}

function groupObject(name: string, versions: string[]) {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

/** `GET /apis`: every named group registered so far, including ones added by `setObject`. */
export function groupList(registry: Registry): object {
  const groups = [...groupVersions(registry)].map(([name, versions]) => groupObject(name, versions));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

/** `GET /apis/{group}`, or undefined if the group is unknown. */
export function group(registry: Registry, name: string): object | undefined {
  const versions = groupVersions(registry).get(name);
  return versions && { kind: 'APIGroup', apiVersion: 'v1', ...groupObject(name, versions) };
}

/** `GET /api/v1` or `/apis/{group}/{version}`, or undefined if nothing is served there. */
export function resourceList(registry: Registry, groupName: string, version: string): object | undefined {
  const resources = registry.all().filter((info) => info.group === groupName && info.version === version);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: joinApiVersion(groupName, version),
    resources: resources.map(describe),
  };
}

function describe(info: ResourceInfo) {
  return {
    name: info.plural,
    singularName: info.singular,
    namespaced: info.namespaced,
    kind: info.kind,
    verbs: info.verbs,
    ...(info.shortNames.length ? { shortNames: info.shortNames } : {}),
  };
}
