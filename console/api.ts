// Talks to the presenter: the token kept in this tab, JSON requests and the query strings they take.

import type { EventsPage as ServerEventsPage, KrateoEventPayload } from '../lib/presenter/core/wire.ts';

export type { Facets, FacetValue, Histogram, HistogramBucket } from '../lib/presenter/core/wire.ts';

/** An event as `/events` and the live stream give it (`raw` only from `/events`). */
export type EventPayload = KrateoEventPayload & { raw?: string };

/** A page of `/events`, its rows read as the live stream's are. */
export type EventsPage = Omit<ServerEventsPage, 'resources'> & { resources: EventPayload[] };

const tokenKey = 'events-console-token';

/** The token of this tab, if signed in. */
export function readToken(): string | undefined {
  return sessionStorage.getItem(tokenKey) ?? undefined;
}

export function storeToken(token: string): void {
  sessionStorage.setItem(tokenKey, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(tokenKey);
}

/** The `username` claim of a JWT, for display only (the server verifies the token). */
export function usernameOf(token: string): string {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    return String((JSON.parse(json) as { username?: unknown }).username ?? '');
  } catch {
    return '';
  }
}

/** A refused or failed request; `status` 401 means the token is no longer accepted. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * GETs `path` with the token and parses JSON; throws ApiError on a non-2xx answer. A 429 or 503
 * (the server's per-user cap or a history query cut short) is asked again after its
 * `Retry-After` (at most 5 s), up to three times, so a busy moment does not end the history.
 */
export async function getJson<T>(path: string, token: string, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(path, { headers: { authorization: `Bearer ${token}` }, signal });
    if (response.ok) return (await response.json()) as T;
    const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
    const retryable = (response.status === 429 || response.status === 503) && attempt <= 3;
    if (!retryable) throw new ApiError(response.status, body.code ?? 'error', body.message ?? `HTTP ${response.status}`);
    const waitMs = Math.min(5, Number(response.headers.get('retry-after')) || 1) * 1000;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}

/** Builds `path?…` from parameters, leaving out empty ones. */
export function withQuery(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
