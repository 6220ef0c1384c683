// The JSON the presenter answers with, as types only. This file imports nothing, so the Events
// console (console/, a DOM-only build) shares these shapes instead of spelling them again.

// The payload's field names equal columns of `k8s_events` (storage's EventRecord), yet they are
// spelled here on purpose: this is the contract with the Krateo frontend and must not follow a
// column rename, and this file may import nothing.

/** The Krateo SSE payload: a flat object with exactly these snake_case keys, in this order (no `raw`). */
export interface KrateoEventPayload {
  event_id: string;
  global_uid: string;
  cluster_name: string;
  namespace: string;
  resource_kind: string;
  resource_name: string;
  involved_object_uid: string | null;
  event_type: string;
  reason: string | null;
  message: string | null;
  composition_id: string | null;
  created_at: string;
}

/** One `/events` resource: the Krateo payload plus `raw`, the stored event as a JSON string. */
export interface EventResource extends KrateoEventPayload {
  raw: string;
}

/** The Krateo envelope of `/events`. `cursor` is present only when another page exists. */
export interface EventsPage {
  resources: EventResource[];
  cursor?: string;
}

/** One bucket: events (latest versions) created in `[start, start + bucket)`, by type. */
export interface HistogramBucket {
  start: string;
  normal: number;
  warning: number;
  other: number;
}

/** The `/events/histogram` answer; `total` is the sum of all buckets. */
export interface Histogram {
  bucket: string;
  since: string;
  until: string;
  total: number;
  buckets: HistogramBucket[];
}

/** A facet value and how many events (latest versions) have it. */
export interface FacetValue {
  value: string;
  count: number;
}

/** The `/events/facets` answer: the most frequent values, most frequent first. */
export interface Facets {
  reasons: FacetValue[];
  namespaces: FacetValue[];
  kinds: FacetValue[];
}
