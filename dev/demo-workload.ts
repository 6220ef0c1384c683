import { randomUUID } from 'node:crypto';
import type { KubeObject, Simulator, StoredObject } from './simulator/index.ts';

/** The namespaces the demo populates; `alice` may list events only in the first two. */
export const demoNamespaces = ['team-a', 'team-b', 'platform', 'krateo-system'] as const;

interface DemoPod {
  namespace: string;
  name: string;
  uid: string;
  compositionId?: string;
}

const images = ['nginx:1.27', 'ghcr.io/acme/api:2.4.1', 'redis:7.2', 'quay.io/prometheus/node-exporter:v1.8.0'];

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

/**
 * Seeds the simulator with a couple of Krateo compositions, labelled workloads and pods in several
 * namespaces. Returns the pods that later events are about.
 */
export function seedDemoCluster(sim: Simulator): DemoPod[] {
  const pods: DemoPod[] = [];
  const compositions = [
    { namespace: 'team-a', name: 'shop-frontend', kind: 'FireworksApp' },
    { namespace: 'team-b', name: 'billing', kind: 'GithubScaffolding' },
  ];
  for (const c of compositions) {
    const composition = sim.setObject({
      apiVersion: 'composition.krateo.io/v1-2-0',
      kind: c.kind,
      metadata: { namespace: c.namespace, name: c.name },
    });
    const compositionId = composition.metadata.uid;
    for (let i = 0; i < 3; i++) {
      const name = `${c.name}-${i}-${randomUUID().slice(0, 5)}`;
      const pod = sim.setObject({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { namespace: c.namespace, name, labels: { 'krateo.io/composition-id': compositionId, app: c.name } },
      });
      pods.push({ namespace: c.namespace, name, uid: pod.metadata.uid, compositionId });
    }
  }
  for (const namespace of demoNamespaces) {
    for (let i = 0; i < 3; i++) {
      const name = `worker-${i}-${randomUUID().slice(0, 5)}`;
      const pod = sim.setObject({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, labels: { app: 'worker' } } });
      pods.push({ namespace, name, uid: pod.metadata.uid });
    }
  }
  return pods;
}

function podEvent(pod: DemoPod, type: string, reason: string, message: string, now: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { namespace: pod.namespace, generateName: `${pod.name}.` },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid, fieldPath: 'spec.containers{app}' },
    type,
    reason,
    message,
    source: { component: 'kubelet', host: 'node-1' },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

function schedulingEvent(pod: DemoPod, now: string): KubeObject {
  // New-style (events.k8s.io) event as the scheduler writes it: eventTime and reporting fields.
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { namespace: pod.namespace, generateName: `${pod.name}.` },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
    type: 'Warning',
    reason: 'FailedScheduling',
    message: '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory.',
    eventTime: now.replace(/Z$/, '000Z'), // MicroTime: microsecond precision
    reportingComponent: 'default-scheduler',
    reportingInstance: 'default-scheduler-node-1',
    action: 'Scheduling',
  };
}

/**
 * Emits a continuous, realistic mix of events into the simulator (pods pulling and starting,
 * crash loops with count bumps, scheduling failures) at about `eventsPerSecond` until `signal`
 * aborts. `random` is injectable so tests can make it deterministic.
 */
export function startDemoWorkload(options: {
  sim: Simulator;
  pods: DemoPod[];
  eventsPerSecond: number;
  signal: AbortSignal;
  random?: () => number;
}): void {
  const random = options.random ?? Math.random;
  const crashLoops: StoredObject[] = [];
  const tick = () => {
    const now = new Date().toISOString();
    const pod = pick(options.pods, random);
    const roll = random();
    if (roll < 0.45) {
      const step = pick(
        [
          ['Normal', 'Scheduled', `Successfully assigned ${pod.namespace}/${pod.name} to node-1`],
          ['Normal', 'Pulling', `Pulling image "${pick(images, random)}"`],
          ['Normal', 'Pulled', `Successfully pulled image "${pick(images, random)}" in 1.2s (1.2s including waiting)`],
          ['Normal', 'Created', 'Created container app'],
          ['Normal', 'Started', 'Started container app'],
        ] as const,
        random,
      );
      options.sim.createEvent(podEvent(pod, step[0], step[1], step[2], now));
    } else if (roll < 0.75 && crashLoops.length > 0) {
      const previous = pick(crashLoops, random);
      const bumped = { ...previous, count: Number(previous.count ?? 1) + 1, lastTimestamp: now };
      crashLoops[crashLoops.indexOf(previous)] = options.sim.updateEvent(bumped);
    } else if (roll < 0.9) {
      const event = options.sim.createEvent(podEvent(pod, 'Warning', 'BackOff', 'Back-off restarting failed container app in pod', now));
      crashLoops.push(event);
      if (crashLoops.length > 20) crashLoops.shift();
    } else {
      options.sim.createEvent(schedulingEvent(pod, now));
    }
  };
  if (options.signal.aborted) return;
  const timer = setInterval(tick, Math.max(1, Math.round(1000 / options.eventsPerSecond)));
  options.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
