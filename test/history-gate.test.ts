// The history gate's rules over fake work and a hand-fired timer (pure logic; the refusals through
// the real presenter and PostgreSQL are in presenter-limits.test.ts): a bounded number run, a
// bounded number wait in order, a full queue and a long wait are refused, and no path leaks a slot.
import { describe, expect, test } from 'bun:test';
import { createHistoryGate, type ScheduleTimer } from '../lib/presenter/core/history-gate.ts';
import { LimitError } from '../lib/presenter/core/limits.ts';

/** Timers that fire only when the test says so. */
function createManualTimers() {
  const armed = new Set<{ callback: () => void; delayMs: number }>();
  const schedule: ScheduleTimer = (callback, delayMs) => {
    const timer = { callback, delayMs };
    armed.add(timer);
    return () => void armed.delete(timer);
  };
  return {
    schedule,
    get armed() {
      return [...armed].map((t) => t.delayMs);
    },
    fireAll() {
      const due = [...armed];
      armed.clear();
      for (const timer of due) timer.callback();
    },
  };
}

/** Work that ends when the test resolves or rejects it. */
function createHeldWork() {
  const started: string[] = [];
  const held = new Map<string, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  const work = (name: string) => () =>
    new Promise<string>((resolve, reject) => {
      started.push(name);
      held.set(name, { resolve, reject });
    });
  return { started, work, finish: (name: string) => held.get(name)!.resolve(name), fail: (name: string) => held.get(name)!.reject(new Error(`${name} failed`)) };
}

/** What a run ended with: its value, or its error's code, status and Retry-After (undefined when the error has none). */
type Outcome = { value: unknown } | { code?: string; status?: number; retryAfter?: number };

const outcome = (promise: Promise<unknown>): Promise<Outcome> =>
  promise.then(
    (value) => ({ value }),
    (err: Error & { code?: string }) => ({ code: err.code, status: (err as LimitError).status, retryAfter: (err as LimitError).retryAfterSeconds }),
  );

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('history gate', () => {
  test('runs at most maxRunning at once, queues up to maxWaiting in order, and refuses one more with history_busy', async () => {
    const timers = createManualTimers();
    const gate = createHistoryGate({ maxRunning: 2, maxWaiting: 2, maxWaitMs: 5000, schedule: timers.schedule });
    const { started, work, finish } = createHeldWork();
    const results = ['a', 'b', 'c', 'd', 'e'].map((name) => outcome(gate.run(work(name))));
    await settle();
    expect({ started: [...started], running: gate.running, waiting: gate.waiting, timers: timers.armed }).toEqual({
      started: ['a', 'b'],
      running: 2,
      waiting: 2,
      timers: [5000, 5000],
    });
    expect(await results[4]).toEqual({ code: 'history_busy', status: 503, retryAfter: 2 });
    finish('b');
    await settle();
    finish('a');
    await settle();
    expect({ started: [...started], timers: timers.armed }).toEqual({ started: ['a', 'b', 'c', 'd'], timers: [] });
    finish('c');
    finish('d');
    expect(await Promise.all(results.slice(0, 4))).toEqual([{ value: 'a' }, { value: 'b' }, { value: 'c' }, { value: 'd' }]);
    expect({ running: gate.running, waiting: gate.waiting }).toEqual({ running: 0, waiting: 0 });
  });

  test('a request that waited maxWaitMs is refused with history_wait_timeout and holds no slot', async () => {
    const timers = createManualTimers();
    const waited: string[] = [];
    const gate = createHistoryGate({ maxRunning: 1, maxWaiting: 4, maxWaitMs: 5000, schedule: timers.schedule, onWaited: (_ms, result) => void waited.push(result) });
    const { started, work, finish } = createHeldWork();
    const first = outcome(gate.run(work('a')));
    const second = outcome(gate.run(work('b')));
    await settle();
    timers.fireAll();
    expect(await second).toEqual({ code: 'history_wait_timeout', status: 503, retryAfter: 2 });
    expect({ running: gate.running, waiting: gate.waiting, waited }).toEqual({ running: 1, waiting: 0, waited: ['timeout'] });
    finish('a');
    expect(await first).toEqual({ value: 'a' });
    // The slot the refused request never took is free: the next one runs at once.
    const third = outcome(gate.run(work('c')));
    await settle();
    finish('c');
    expect({ third: await third, started: [...started], running: gate.running }).toEqual({ third: { value: 'c' }, started: ['a', 'c'], running: 0 });
  });

  test('a failed query frees its slot for the next waiter, and a waiter whose client left is dropped without a slot', async () => {
    const timers = createManualTimers();
    const gate = createHistoryGate({ maxRunning: 1, maxWaiting: 4, maxWaitMs: 5000, schedule: timers.schedule });
    const { started, work, finish, fail } = createHeldWork();
    const first = outcome(gate.run(work('a')));
    const client = new AbortController();
    const gone = outcome(gate.run(work('b'), client.signal));
    const third = outcome(gate.run(work('c')));
    await settle();
    client.abort();
    expect(await gone).toEqual({ code: 'request_aborted', status: undefined, retryAfter: undefined });
    expect({ waiting: gate.waiting, timers: timers.armed }).toEqual({ waiting: 1, timers: [5000] });
    fail('a');
    expect(await first).toEqual({ code: undefined, status: undefined, retryAfter: undefined });
    await settle();
    finish('c');
    expect({ third: await third, started: [...started], running: gate.running, waiting: gate.waiting }).toEqual({
      third: { value: 'c' },
      started: ['a', 'c'],
      running: 0,
      waiting: 0,
    });
  });

  test('with maxWaiting 0 nothing waits, and an already aborted request never runs', async () => {
    const gate = createHistoryGate({ maxRunning: 1, maxWaiting: 0, maxWaitMs: 5000, schedule: createManualTimers().schedule });
    const { started, work, finish } = createHeldWork();
    const first = outcome(gate.run(work('a')));
    expect(await outcome(gate.run(work('b')))).toEqual({ code: 'history_busy', status: 503, retryAfter: 2 });
    finish('a');
    await first;
    expect(await outcome(gate.run(work('c'), AbortSignal.abort()))).toEqual({ code: 'request_aborted', status: undefined, retryAfter: undefined });
    expect({ started: [...started], running: gate.running }).toEqual({ started: ['a'], running: 0 });
  });
});
