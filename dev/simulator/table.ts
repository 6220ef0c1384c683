import type { ResourceInfo } from './registry.ts';
import type { StoredObject } from './types.ts';

/** How much of each object a Table row carries (`includeObject` query parameter). */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** True when the Accept header asks for a `meta.k8s.io/v1` Table, as kubectl get does. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some((part) => /;\s*as=Table\b/.test(part) && /;\s*g=meta\.k8s\.io\b/.test(part) && /;\s*v=v1\b/.test(part));
}

/** Reads `includeObject`; anything but None/Object means Metadata, the API server's default. */
export function parseIncludeObject(raw: string | null): IncludeObject {
  return raw === 'None' || raw === 'Object' ? raw : 'Metadata';
}

const column = (name: string, type: string, description: string, priority = 0, format = ''): Column => ({
  name,
  type,
  format,
  description,
  priority,
});

const eventColumns = [
  column('Last Seen', 'string', 'Time since the event was last observed'),
  column('Type', 'string', 'Type of the event'),
  column('Reason', 'string', 'Reason of the event'),
  column('Object', 'string', 'The object this event is about'),
  column('Message', 'string', 'Message of the event'),
  column('Count', 'integer', 'How often the event occurred', 1),
  column('Name', 'string', 'Name of the event', 1, 'name'),
];

const defaultColumns = [column('Name', 'string', 'Name of the object', 0, 'name'), column('Age', 'string', 'Age of the object')];

/** Human-readable age in the style of kubectl (`45s`, `3m12s`, `5h`, `2d4h`). */
export function formatAge(since: string | undefined, now = Date.now()): string {
  const time = since ? Date.parse(since) : Number.NaN;
  if (Number.isNaN(time)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - time) / 1000));
  const [m, h, d] = [Math.floor(s / 60), Math.floor(s / 3600), Math.floor(s / 86400)];
  if (s < 120) return `${s}s`;
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (h < 3) return `${m}m`;
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  if (h < 48) return `${h}h`;
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ''}`;
  return `${d}d`;
}

const text = (value: unknown) => (typeof value === 'string' ? value : '');

function eventCells(event: StoredObject): unknown[] {
  const involved = (event.involvedObject ?? event.regarding ?? {}) as Record<string, unknown>;
  const series = (event.series ?? {}) as Record<string, unknown>;
  const seen =
    text(series.lastObservedTime) || text(event.lastTimestamp) || text(event.eventTime) ||
    text(event.firstTimestamp) || event.metadata.creationTimestamp;
  return [
    formatAge(seen),
    text(event.type),
    text(event.reason),
    `${text(involved.kind).toLowerCase()}/${text(involved.name)}`,
    text(event.message) || text(event.note),
    typeof event.count === 'number' ? event.count : 1,
    event.metadata.name,
  ];
}

function rowObject(object: StoredObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return object;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

/** Converts objects to a Table; watches send the column definitions with their first row only. */
export function toTable(
  info: ResourceInfo,
  objects: StoredObject[],
  include: IncludeObject,
  options: { listMetadata?: Record<string, unknown>; withColumns?: boolean } = {},
): object {
  const isEvent = info.group === '' && info.plural === 'events';
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: options.listMetadata ?? {},
    ...(options.withColumns === false ? {} : { columnDefinitions: isEvent ? eventColumns : defaultColumns }),
    rows: objects.map((object) => ({
      cells: isEvent ? eventCells(object) : [object.metadata.name, formatAge(object.metadata.creationTimestamp)],
      object: rowObject(object, include),
    })),
  };
}
