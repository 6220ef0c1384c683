import { describe, expect, test } from 'bun:test';
import { buildEventRecord, minifyEvent, pickNewestTimestamp, type KubeEvent } from '../lib/ingest/event-record.ts';
import type { EventRecord } from '../lib/storage/event-store.ts';

const context = { clusterName: 'prod', compositionId: null, nowIso: '2031-01-01T00:00:00.000Z' };

function buildLegacyEvent(overrides: KubeEvent = {}): KubeEvent {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'web.1', namespace: 'shop', uid: 'ev-1', resourceVersion: '42', creationTimestamp: '2030-01-01T00:00:00Z' },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web', uid: 'pod-1', fieldPath: 'spec.containers{app}' },
    reason: 'BackOff',
    message: 'Back-off restarting failed container',
    type: 'Warning',
    count: 3,
    firstTimestamp: '2030-01-01T00:00:00Z',
    lastTimestamp: '2030-01-01T00:05:00Z',
    source: { component: 'kubelet', host: 'node-1' },
    ...overrides,
  };
}

function expectedRecord(overrides: Partial<EventRecord>): Omit<EventRecord, 'raw'> {
  return {
    created_at: '2030-01-01T00:05:00Z',
    cluster_name: 'prod',
    uid: 'ev-1',
    global_uid: 'prod:ev-1',
    namespace: 'shop',
    resource_kind: 'v1.Pod',
    resource_name: 'web',
    involved_object_uid: 'pod-1',
    event_type: 'Warning',
    reason: 'BackOff',
    message: 'Back-off restarting failed container',
    composition_id: null,
    resource_version: '42',
    count: 3,
    first_seen: '2030-01-01T00:00:00Z',
    reporting_controller: 'kubelet',
    labels: null,
    ...overrides,
  };
}

function build(event: KubeEvent): Omit<EventRecord, 'raw'> {
  const result = buildEventRecord(event, context);
  if (!result.ok) throw new Error(`not built: ${result.reason}`);
  const { raw: _raw, ...rest } = result.record;
  return rest;
}

const bigMessage = 'x'.repeat(9 * 1024);

describe('buildEventRecord', () => {
  const cases: [string, KubeEvent, Omit<EventRecord, 'raw'>][] = [
    ['a legacy event maps every column', buildLegacyEvent(), expectedRecord({})],
    [
      'a new-style event uses series.lastObservedTime, series.count, eventTime and reportingComponent',
      buildLegacyEvent({
        count: undefined,
        firstTimestamp: null,
        lastTimestamp: null,
        source: {},
        eventTime: '2030-01-01T00:00:00.123456Z',
        series: { count: 7, lastObservedTime: '2030-01-01T00:09:00.654321Z' },
        reportingComponent: 'default-scheduler',
        reportingInstance: 'sched-1',
      }),
      expectedRecord({ created_at: '2030-01-01T00:09:00.654321Z', count: 7, first_seen: '2030-01-01T00:00:00.123456Z', reporting_controller: 'default-scheduler' }),
    ],
    [
      'an events.k8s.io/v1 shaped event reads regarding, note and deprecated fields',
      {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: 'n', namespace: 'ops', uid: 'ev-2', resourceVersion: '7', creationTimestamp: '2030-01-01T00:00:00Z' },
        regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ops', name: 'api', uid: 'dep-1' },
        note: 'Scaled up',
        reason: 'ScalingReplicaSet',
        type: 'Normal',
        reportingController: 'deployment-controller',
        deprecatedCount: 2,
        deprecatedFirstTimestamp: '2030-01-01T00:01:00Z',
        deprecatedLastTimestamp: '2030-01-01T00:02:00Z',
      },
      expectedRecord({
        created_at: '2030-01-01T00:02:00Z',
        uid: 'ev-2',
        global_uid: 'prod:ev-2',
        namespace: 'ops',
        resource_kind: 'apps/v1.Deployment',
        resource_name: 'api',
        involved_object_uid: 'dep-1',
        event_type: 'Normal',
        reason: 'ScalingReplicaSet',
        message: 'Scaled up',
        resource_version: '7',
        count: 2,
        first_seen: '2030-01-01T00:01:00Z',
        reporting_controller: 'deployment-controller',
      }),
    ],
    [
      'a cluster-scoped involved object without apiVersion keeps the kind alone and no uid',
      buildLegacyEvent({ metadata: { namespace: 'default', uid: 'ev-3', resourceVersion: '9' }, involvedObject: { kind: 'Node', name: 'node-1' } }),
      expectedRecord({ uid: 'ev-3', global_uid: 'prod:ev-3', namespace: 'default', resource_kind: 'Node', resource_name: 'node-1', involved_object_uid: null, resource_version: '9' }),
    ],
    [
      'missing timestamps, type, reason, message and involved object are stored as empty or null',
      { metadata: { uid: 'ev-4', resourceVersion: '1' } },
      expectedRecord({
        created_at: '2031-01-01T00:00:00.000Z',
        uid: 'ev-4',
        global_uid: 'prod:ev-4',
        namespace: '',
        resource_kind: '',
        resource_name: '',
        involved_object_uid: null,
        event_type: '',
        reason: null,
        message: null,
        resource_version: '1',
        count: 1,
        first_seen: null,
        reporting_controller: null,
      }),
    ],
    [
      'only creationTimestamp is used when the event times are unparsable',
      buildLegacyEvent({ firstTimestamp: 'yesterday', lastTimestamp: 12 }),
      expectedRecord({ created_at: '2030-01-01T00:00:00Z', first_seen: null }),
    ],
    ['a 9 KB message is kept whole', buildLegacyEvent({ message: bigMessage }), expectedRecord({ message: bigMessage })],
    [
      'unicode is kept and NUL characters are replaced so PostgreSQL accepts the row',
      buildLegacyEvent({ message: 'naïve 日本語 🚀\u0000end', reason: 'Bad\u0000' }),
      expectedRecord({ message: 'naïve 日本語 🚀\uFFFDend', reason: 'Bad\uFFFD' }),
    ],
    [
      'labels are kept as JSON and an invalid count falls back to 1',
      buildLegacyEvent({ metadata: { name: 'x', namespace: 'shop', uid: 'ev-1', resourceVersion: '42', labels: { team: 'a' } }, count: -5 }),
      expectedRecord({ labels: '{"team":"a"}', count: 1 }),
    ],
  ];

  test.each(cases)('%s', (_name, event, expected) => {
    expect(build(event)).toEqual(expected);
  });

  test('NUL and lone surrogates become U+FFFD in every text column, in label names and values and in raw; other text is kept as is', () => {
    const bad = (text: string) => `${text}\u0000|\ud800|\udc00|😀`;
    const good = (text: string) => `${text}\uFFFD|\uFFFD|\uFFFD|😀`;
    // The same fields, written with the unstorable characters or with what they become.
    const fieldsWith = (text: (s: string) => string) => ({
      metadata: { name: 'web.1', namespace: text('shop'), uid: 'ev-1', resourceVersion: text('42'), creationTimestamp: '2030-01-01T00:00:00Z', labels: { k: text('v'), [text('key')]: 'x' } },
      involvedObject: { apiVersion: text('v1'), kind: 'Pod', namespace: 'shop', name: text('web'), uid: text('pod-1') },
      type: text('Warning'),
      reason: text('BackOff'),
      message: text('Back-off'),
      source: { component: text('kubelet') },
    });
    const event = buildLegacyEvent(fieldsWith(bad));
    const result = buildEventRecord(event, context);
    if (!result.ok) throw new Error('not built');
    const { raw, ...rest } = result.record;
    expect(rest).toEqual({
      ...expectedRecord({
        namespace: good('shop'),
        resource_kind: `${good('v1')}.Pod`,
        resource_name: good('web'),
        involved_object_uid: good('pod-1'),
        event_type: good('Warning'),
        reason: good('BackOff'),
        message: good('Back-off'),
        resource_version: good('42'),
        reporting_controller: good('kubelet'),
      }),
      labels: JSON.stringify({ k: good('v'), [good('key')]: 'x' }),
    });
    expect(JSON.parse(raw)).toEqual({ ...JSON.parse(JSON.stringify(event)), ...fieldsWith(good) });
  });

  test('the current time is asked for only when the event has no usable timestamp', () => {
    let asked = 0;
    const nowIso = () => {
      asked++;
      return '2031-01-01T00:00:00.000Z';
    };
    const dated = buildEventRecord(buildLegacyEvent(), { ...context, nowIso });
    const undated = buildEventRecord({ metadata: { uid: 'ev-9' } }, { ...context, nowIso });
    expect([dated.ok && dated.record.created_at, undated.ok && undated.record.created_at, asked]).toEqual(['2030-01-01T00:05:00Z', '2031-01-01T00:00:00.000Z', 1]);
  });

  test('an event without metadata.uid is refused with the reason missing_uid', () => {
    expect(buildEventRecord(buildLegacyEvent({ metadata: { name: 'x' } }), context)).toEqual({ ok: false, reason: 'missing_uid' });
  });

  test('the composition id and cluster name are taken from the context', () => {
    const result = buildEventRecord(buildLegacyEvent(), { ...context, clusterName: 'edge', compositionId: '0b7a1e1c-3f7a-4c4e-9a53-4f1d2f0d9c11' });
    expect(result.ok && [result.record.cluster_name, result.record.global_uid, result.record.composition_id]).toEqual([
      'edge',
      'edge:ev-1',
      '0b7a1e1c-3f7a-4c4e-9a53-4f1d2f0d9c11',
    ]);
  });
});

describe('minifyEvent', () => {
  test('removes managedFields, selfLink, the last-applied annotation and null fields and keeps everything else', () => {
    const event = buildLegacyEvent({
      metadata: {
        name: 'web.1',
        namespace: 'shop',
        uid: 'ev-1',
        resourceVersion: '42',
        selfLink: '/api/v1/x',
        managedFields: [{ manager: 'kubelet' }],
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'me' },
      },
      eventTime: null,
      series: { count: 2, lastObservedTime: '2030-01-01T00:05:00Z' },
      reportingComponent: 'kubelet',
      reportingInstance: 'node-1',
    });
    expect(JSON.parse(minifyEvent(event))).toEqual({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web.1', namespace: 'shop', uid: 'ev-1', resourceVersion: '42', annotations: { keep: 'me' } },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web', uid: 'pod-1', fieldPath: 'spec.containers{app}' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
      type: 'Warning',
      count: 3,
      firstTimestamp: '2030-01-01T00:00:00Z',
      lastTimestamp: '2030-01-01T00:05:00Z',
      source: { component: 'kubelet', host: 'node-1' },
      series: { count: 2, lastObservedTime: '2030-01-01T00:05:00Z' },
      reportingComponent: 'kubelet',
      reportingInstance: 'node-1',
    });
  });
});

describe('pickNewestTimestamp', () => {
  test('compares instants whatever the form: offsets, lower case, fractions of any length, month ends, leap days', () => {
    const pairs: [string, string, string | undefined][] = [
      ['2030-01-31T23:59:59.9999Z', '2030-02-01T00:00:00+00:00', '2030-02-01T00:00:00+00:00'],
      ['2030-01-01T00:00:00.1Z', '2030-01-01T00:00:00.099Z', '2030-01-01T00:00:00.1Z'],
      ['2030-01-01T05:30:00+05:30', '2029-12-31t23:59:59.999z', '2030-01-01T05:30:00+05:30'],
      ['2032-02-29T12:00:00Z', '2032-02-28T23:59:59.999999999Z', '2032-02-29T12:00:00Z'],
      ['2030-12-31T23:59:59.12Z', '2030-12-31T23:59:59.119999Z', '2030-12-31T23:59:59.12Z'],
      ['2030-13-01T00:00:00Z', '2030-01-01T23:60:00Z', undefined],
      ['1969-12-31T23:59:59.5Z', '1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'],
    ];
    expect(pairs.map(([a, b]) => [pickNewestTimestamp([a, b]), pickNewestTimestamp([b, a])])).toEqual(pairs.map(([, , newest]) => [newest, newest]));
  });

  test('prefers the finer MicroTime text when two timestamps fall in the same millisecond', () => {
    expect(pickNewestTimestamp(['2030-01-01T00:00:00.123Z', '2030-01-01T00:00:00.123456Z', null])).toBe('2030-01-01T00:00:00.123456Z');
  });
});
