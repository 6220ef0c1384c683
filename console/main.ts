// The Events console: sign-in, then the live tail, history, chart and facets for the URL's filters.
import { ApiError, forgetToken, getJson, readToken, storeToken, usernameOf, withQuery, type EventPayload, type EventsPage, type Facets, type Histogram } from './api.ts';
import { renderChart } from './chart.ts';
import { showDetail } from './detail.ts';
import { EventRows } from './event-rows.ts';
import { renderFacets } from './facets.ts';
import { createListView } from './list-view.ts';
import { startLiveTail, type ConnectionState } from './live-tail.ts';
import { bucketFor, EmptyPageBrake, filterNames, liveFilterNames, matchesClientFilters, readFilters, type Filters } from './view-state.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const pageSize = 200;
const maxRows = 50_000;
const maxPending = 10_000;
const overviewRefreshMs = 2000;

const rows = new EventRows(maxRows);
let token = '';
let filters: Filters = readFilters(location.search);
let cursor: string | undefined;
let loadingPage = false;
let historyDone = false;
// 20 empty windows in a row (100,000 rows at the server's default) before asking the user.
const emptyPages = new EmptyPageBrake(20);
let paused = false;
let pending: EventPayload[] = [];
let pendingOverflow = false;
let received = 0;
let generation = 0;
let live: { close(): void } | undefined;
let connection: ConnectionState = 'connecting';

const list = createListView({
  container: $('list'),
  spacer: $('list-spacer'),
  rows: () => rows.rows,
  onOpen: (row) => void showDetail($('detail'), row, token).catch(handleError),
  onNearEnd: () => void loadNextPage(),
});

/** Writes the filters into the page URL without reloading (the `#token` fragment is never kept). */
function writeFilters(filters: Filters): void {
  const params = new URLSearchParams();
  for (const name of filterNames) if (filters[name]) params.set(name, filters[name]!);
  const text = params.toString();
  history.replaceState(null, '', `${location.pathname}${text ? `?${text}` : ''}`);
}

function setFoot(): void {
  const more = loadingPage
    ? 'loading…'
    : historyDone
      ? rows.trimmed ? 'older events dropped to stay responsive; narrow the filters' : 'end of history'
      : emptyPages.held ? `no match in the last ${emptyPages.maxEmptyPages} pages searched` : 'scroll for more';
  $('list-further').hidden = historyDone || !emptyPages.held;
  $('list-foot').textContent = `${rows.length.toLocaleString('en')} events · ${more}`;
  $('list-foot').dataset.rows = String(rows.length);
  $('list-foot').dataset.received = String(received);
}

function showConnection(state: ConnectionState): void {
  connection = state;
  const shown = paused && state === 'live' ? 'paused' : state;
  $('conn').dataset.state = shown;
  $('conn').textContent = shown;
}

function handleError(err: unknown): void {
  if (err instanceof ApiError && err.status === 401) return signOut('Your token was refused; sign in again.');
  if (err instanceof DOMException && err.name === 'AbortError') return;
  $('list-foot').textContent = err instanceof Error ? err.message : String(err);
}

/** Query parameters for history requests: every filter. */
function historyParams(): Record<string, string | undefined> {
  return Object.fromEntries(filterNames.map((name) => [name, filters[name]]));
}

async function loadNextPage(): Promise<void> {
  if (loadingPage || historyDone || rows.trimmed || emptyPages.held) return;
  loadingPage = true;
  const mine = generation;
  setFoot();
  try {
    const page = await getJson<EventsPage>(withQuery('/events', { ...historyParams(), limit: String(pageSize), cursor }), token);
    if (mine !== generation) return;
    rows.addPage(page.resources);
    cursor = page.cursor;
    historyDone = cursor === undefined;
    emptyPages.record(page.resources.length, !historyDone);
  } catch (err) {
    historyDone = true;
    handleError(err);
  } finally {
    if (mine === generation) loadingPage = false;
    setFoot();
    list.schedule();
  }
}

async function loadOverview(): Promise<void> {
  const mine = generation;
  const [histogram, facets] = await Promise.all([
    getJson<Histogram>(withQuery('/events/histogram', { ...historyParams(), bucket: bucketFor(filters.since) }), token),
    getJson<Facets>(withQuery('/events/facets', historyParams()), token),
  ]);
  if (mine !== generation) return;
  $('chart-bucket').textContent = histogram.bucket;
  renderChart($<SVGSVGElement & HTMLElement>('chart'), $('chart-total'), histogram);
  renderFacets($('facets'), facets, (name, value) => applyFilters({ ...filters, [name]: value }));
}

function acceptLive(events: EventPayload[]): void {
  const shown = events.filter((e) => matchesClientFilters(filters, e));
  received += shown.length;
  if (paused) {
    pending.push(...shown);
    if (pending.length > maxPending) {
      pending = pending.slice(-maxPending);
      pendingOverflow = true;
    }
    $('pending').textContent = `${pending.length.toLocaleString('en')} new`;
    return;
  }
  showLive(shown);
}

let overviewTimer: ReturnType<typeof setTimeout> | undefined;

/** Refreshes chart and facets a little after live events arrive: at most once per `overviewRefreshMs`. */
function scheduleOverview(): void {
  if (overviewTimer !== undefined) return;
  overviewTimer = setTimeout(() => {
    overviewTimer = undefined;
    void loadOverview().catch(handleError);
  }, overviewRefreshMs);
}

function showLive(shown: EventPayload[]): void {
  if (shown.length > 0) scheduleOverview();
  const added = rows.addLive(shown);
  if (added > 0) list.shiftForInserted(added);
  setFoot();
  list.schedule();
}

/** Reloads everything for the current filters: history from the first page, chart, facets, live stream. */
function reload(): void {
  generation++;
  live?.close();
  rows.clear();
  cursor = undefined;
  historyDone = false;
  emptyPages.release();
  loadingPage = false;
  pending = [];
  pendingOverflow = false;
  list.resetSelection();
  for (const name of filterNames) {
    const input = document.querySelector<HTMLInputElement | HTMLSelectElement>(`#filters [name="${name}"]`);
    if (input) input.value = filters[name] ?? '';
  }
  // The stream opens first, so nothing inserted while history loads is missed (repeats are folded).
  live = startLiveTail({
    token,
    filters: Object.fromEntries(liveFilterNames.map((name) => [name, filters[name]])),
    onEvents: acceptLive,
    onState: showConnection,
    onUnauthorised: () => signOut('Your token was refused; sign in again.'),
  });
  void loadNextPage();
  void loadOverview().catch(handleError);
  list.schedule();
}

function applyFilters(next: Filters): void {
  filters = next;
  writeFilters(filters);
  reload();
}

function togglePause(): void {
  paused = !paused;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
  $('pause').setAttribute('aria-pressed', String(paused));
  showConnection(connection);
  if (paused) return;
  $('pending').textContent = '';
  if (pendingOverflow) return reload();
  const events = pending;
  pending = [];
  showLive(events);
}

function signOut(message = ''): void {
  live?.close();
  generation++;
  forgetToken();
  token = '';
  rows.clear();
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  $('token-input').focus();
}

async function signIn(candidate: string): Promise<void> {
  try {
    await getJson<EventsPage>('/events?limit=1', candidate);
  } catch (err) {
    $('signin-error').textContent = err instanceof ApiError && err.status === 401 ? `Token refused (${err.code}).` : String(err);
    return;
  }
  storeToken(candidate);
  token = candidate;
  $('user').textContent = usernameOf(candidate);
  $('signin').hidden = true;
  $('app').hidden = false;
  reload();
  $('list').focus();
}

function wire(): void {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn(($('token-input') as HTMLTextAreaElement).value.trim());
  });
  $('signout').addEventListener('click', () => signOut());
  $('pause').addEventListener('click', togglePause);
  $('list-further').addEventListener('click', () => {
    emptyPages.release();
    void loadNextPage();
  });
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    applyFilters(Object.fromEntries(filterNames.map((name) => [name, String(data.get(name) ?? '').trim() || undefined])) as Filters);
  });
  $('clear').addEventListener('click', (event) => {
    event.preventDefault();
    applyFilters({ since: filters.since });
  });
  $('detail-close').addEventListener('click', closeDetail);
  document.addEventListener('keydown', (event) => {
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLSelectElement;
    if (event.key === 'Escape' && !$('detail').hidden) closeDetail();
    else if (!typing && event.key === '/' && !$('app').hidden) {
      event.preventDefault();
      document.querySelector<HTMLInputElement>('#filters [name="q"]')!.focus();
    } else if (!typing && event.key === 'p' && !$('app').hidden) togglePause();
  });
}

function closeDetail(): void {
  $('detail').hidden = true;
  $('list').focus();
}

function start(): void {
  wire();
  // `bun run dev` prints links with `#token=…`: the fragment never reaches the server or its logs.
  const fromLink = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromLink) {
    storeToken(fromLink);
    history.replaceState(null, '', `${location.pathname}${location.search}`);
  }
  const stored = readToken();
  if (stored) void signIn(stored);
  else signOut();
}

start();
