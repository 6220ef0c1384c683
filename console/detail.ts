// The detail panel: every field, the object's timeline and the pretty-printed stored event.
import { getJson, withQuery, type EventPayload, type EventsPage } from './api.ts';
import type { EventRow } from './event-rows.ts';

const fields: (keyof EventPayload)[] = [
  'namespace', 'resource_kind', 'resource_name', 'involved_object_uid', 'event_type', 'reason', 'message',
  'cluster_name', 'composition_id', 'global_uid', 'event_id', 'created_at',
];

function item(term: string, value: string): HTMLElement[] {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  return [dt, dd];
}

/** Shows `row` in the panel and loads the involved object's timeline (which also holds `raw`). */
export async function showDetail(panel: HTMLElement, row: EventRow, token: string): Promise<void> {
  const e = row.event;
  panel.hidden = false;
  panel.querySelector('#detail-title')!.textContent = `${e.reason ?? e.event_type} · ${e.namespace}/${e.resource_name}`;
  panel.querySelector('#detail-fields')!.replaceChildren(
    ...fields.flatMap((f) => item(f, String(e[f] ?? '—'))),
    ...item('count', String(row.count)),
    ...item('first seen', row.firstSeen),
    ...item('last seen', row.lastSeen),
  );
  const timeline = panel.querySelector('#detail-timeline')!;
  const raw = panel.querySelector('#detail-raw')!;
  timeline.replaceChildren();
  raw.textContent = e.raw ? JSON.stringify(JSON.parse(e.raw), null, 2) : '…';
  (panel.querySelector('#detail-close') as HTMLElement).focus();
  const object = e.involved_object_uid
    ? { involved_object_uid: e.involved_object_uid }
    : { namespace: e.namespace, kind: e.resource_kind, name: e.resource_name, cluster: e.cluster_name };
  const page = await getJson<EventsPage>(withQuery('/events', { ...object, limit: '200' }), token);
  const events = page.resources.toSorted((a, b) => a.created_at.localeCompare(b.created_at));
  timeline.replaceChildren(
    ...events.map((event) => {
      const li = document.createElement('li');
      const time = document.createElement('time');
      time.dateTime = event.created_at;
      time.textContent = new Date(event.created_at).toLocaleString();
      li.append(time, `${event.event_type} ${event.reason ?? ''}: ${event.message ?? ''}`);
      return li;
    }),
  );
  const stored = page.resources.find((r) => r.global_uid === e.global_uid)?.raw ?? e.raw;
  raw.textContent = stored ? JSON.stringify(JSON.parse(stored), null, 2) : 'not stored yet';
}
