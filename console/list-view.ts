// A virtualised list: only the rows in view (plus a margin) exist in the DOM, so 10,000+ rows and a
// live stream cost the same per frame as a screenful.
import type { EventRow } from './event-rows.ts';

const overscanRows = 10;

function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getMonth() + 1}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function span(className: string, text: string, title?: string): HTMLSpanElement {
  const el = document.createElement('span');
  el.className = className;
  el.setAttribute('role', 'gridcell');
  el.textContent = text;
  if (title) el.title = title;
  return el;
}

function fillRow(el: HTMLElement, row: EventRow): void {
  const e = row.event;
  el.replaceChildren(
    span('when', formatTime(row.lastSeen), row.lastSeen),
    span(`type t-${e.event_type}`, e.event_type),
    span('reason', e.reason ?? ''),
    span('object', `${e.namespace}/${e.resource_name}`, `${e.resource_kind} ${e.namespace}/${e.resource_name}`),
    span('msg', e.message ?? '', e.message ?? ''),
    span('count', String(row.count)),
  );
  el.dataset.uid = e.global_uid;
  el.dataset.namespace = e.namespace;
}

export interface ListViewOptions {
  container: HTMLElement;
  spacer: HTMLElement;
  rows: () => EventRow[];
  onOpen: (row: EventRow) => void;
  /** Called when the last rows come into view (load the next history page). */
  onNearEnd: () => void;
}

/** Renders `rows()` into `container`, reusing row elements; `render()` is cheap to call every frame. */
export function createListView(options: ListViewOptions) {
  const { container, spacer } = options;
  const pool = new Map<string, HTMLElement>();
  let selected = -1;
  let rowHeight = 36;
  let scheduled = false;

  const measure = () => {
    const value = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row-h'));
    if (value > 0) rowHeight = value;
  };

  const render = () => {
    scheduled = false;
    const rows = options.rows();
    spacer.style.height = `${rows.length * rowHeight}px`;
    container.setAttribute('aria-rowcount', String(rows.length));
    const first = Math.max(0, Math.floor(container.scrollTop / rowHeight) - overscanRows);
    const last = Math.min(rows.length, Math.ceil((container.scrollTop + container.clientHeight) / rowHeight) + overscanRows);
    const keep = new Set<string>();
    for (let i = first; i < last; i++) {
      const row = rows[i]!;
      const uid = row.event.global_uid;
      keep.add(uid);
      let el = pool.get(uid);
      if (!el) {
        el = document.createElement('div');
        el.className = 'row';
        el.setAttribute('role', 'row');
        pool.set(uid, el);
        container.append(el);
      }
      const stamp = `${row.event.created_at}|${row.count}`;
      if (el.dataset.stamp !== stamp) {
        fillRow(el, row);
        el.dataset.stamp = stamp;
      }
      el.style.transform = `translateY(${i * rowHeight}px)`;
      el.dataset.index = String(i);
      el.setAttribute('aria-rowindex', String(i + 1));
      el.setAttribute('aria-selected', String(i === selected));
    }
    for (const [uid, el] of pool) {
      if (!keep.has(uid)) {
        el.remove();
        pool.delete(uid);
      }
    }
    // Also with no rows: a page of the scan window may hold none and still have a cursor to follow.
    if (last >= rows.length - overscanRows) options.onNearEnd();
  };

  /** Schedules one render for the next frame, however often it is called. */
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  };

  const select = (index: number) => {
    const rows = options.rows();
    if (rows.length === 0) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    const top = selected * rowHeight;
    if (top < container.scrollTop) container.scrollTop = top;
    else if (top + rowHeight > container.scrollTop + container.clientHeight) container.scrollTop = top + rowHeight - container.clientHeight;
    schedule();
  };

  container.addEventListener('scroll', schedule, { passive: true });
  container.addEventListener('click', (event) => {
    const el = (event.target as HTMLElement).closest<HTMLElement>('.row');
    if (!el) return;
    selected = Number(el.dataset.index);
    const row = options.rows()[selected];
    if (row) options.onOpen(row);
    schedule();
  });
  container.addEventListener('keydown', (event) => {
    const page = Math.max(1, Math.floor(container.clientHeight / rowHeight) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, j: 1, k: -1 };
    if (event.key in moves) {
      event.preventDefault();
      select(selected + moves[event.key]!);
    } else if (event.key === 'Home') {
      event.preventDefault();
      select(0);
    } else if (event.key === 'End') {
      event.preventDefault();
      select(options.rows().length - 1);
    } else if (event.key === 'Enter') {
      // The detail takes focus; without this the same key press would also press its close button.
      event.preventDefault();
      const row = options.rows()[selected];
      if (row) options.onOpen(row);
    }
  });
  addEventListener('resize', () => {
    measure();
    schedule();
  });
  measure();

  return {
    schedule,
    renderNow: render,
    /** Keeps the rows in view steady when `added` rows were inserted above them. */
    shiftForInserted(added: number) {
      if (selected >= 0) selected += added;
      if (container.scrollTop > 0) container.scrollTop += added * rowHeight;
    },
    resetSelection() {
      selected = -1;
      container.scrollTop = 0;
    },
  };
}
