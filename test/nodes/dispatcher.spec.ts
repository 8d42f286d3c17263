/** The config node's request gate on its own, with a clock the test moves. */
import assert from 'node:assert/strict';
import {
  Dispatcher,
  MAX_PAUSE_MS,
  NotDispatchedError,
  type DispatcherOptions,
} from '../../nodes/lib/dispatcher';

const MESSAGES = {
  dropped: 'dropped',
  expired: 'expired',
  'queue-full': 'full',
  aborted: 'aborted',
  closed: 'closed',
};

function gate(options: Partial<DispatcherOptions> = {}) {
  const clock = { now: 1_000_000 };
  const drops: string[] = [];
  const dispatcher = new Dispatcher(
    { maxConcurrent: 1, queueLength: 10, overflow: 'error', maxAgeMs: 60_000, ...options },
    MESSAGES,
    (reason) => drops.push(reason),
    () => clock.now,
  );
  return { dispatcher, clock, drops };
}

/** A job that runs until `finish` is called, and records that it started. */
function held() {
  const state: { started: boolean; finish: () => void } = { started: false, finish: () => undefined };
  const job = () =>
    new Promise<string>((resolve) => {
      state.started = true;
      state.finish = () => resolve('done');
    });
  return { state, job };
}

const never = new AbortController().signal;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rejection(promise: Promise<unknown>): Promise<NotDispatchedError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof NotDispatchedError);
    return err;
  }
  throw new Error('expected a rejection');
}

describe('dispatcher', function () {
  it('starts nothing while paused, and starts the queue once the clock says the pause is over', async function () {
    const { dispatcher, clock } = gate();
    dispatcher.pause(50);
    const { state, job } = held();
    const result = dispatcher.submit(job, never);
    // The timer fires after 50 ms of real time, but by this clock the pause is not over: it waits again.
    await wait(80);
    assert.equal(state.started, false);
    clock.now += 50;
    await wait(80);
    assert.equal(state.started, true);
    state.finish();
    assert.equal(await result, 'done');
    dispatcher.close();
  });

  it('caps a pause at MAX_PAUSE_MS, however long the Retry-After', function () {
    const { dispatcher } = gate();
    dispatcher.pause(3_600_000);
    const { state, job } = held();
    void dispatcher.submit(job, never).catch(() => undefined);
    assert.equal(state.started, false);
    dispatcher.close();

    const later = gate();
    later.dispatcher.pause(3_600_000);
    later.clock.now += MAX_PAUSE_MS;
    const next = held();
    void later.dispatcher.submit(next.job, never);
    assert.equal(next.state.started, true, 'past the cap a job starts at once');
    next.state.finish();
    later.dispatcher.close();
  });

  it('drops a job that waited longer than the max age, and says so', async function () {
    const { dispatcher, clock, drops } = gate({ maxAgeMs: 100 });
    const running = held();
    void dispatcher.submit(running.job, never);
    const waiting = dispatcher.submit(held().job, never);
    clock.now += 101;
    // The sweep runs every second while jobs wait, even when nothing else moves the queue.
    const err = await rejection(waiting);
    assert.equal(err.reason, 'expired');
    assert.equal(err.code, 'EXPIRED');
    assert.equal(err.isDrop, true);
    assert.deepEqual(drops, ['expired']);
    running.state.finish();
    dispatcher.close();
  });

  it('counts every drop of the overflow policies, and fails the message for "error"', async function () {
    for (const [overflow, expected] of [
      ['drop-newest', 'dropped'],
      ['drop-oldest', 'dropped'],
      ['error', 'queue-full'],
    ] as const) {
      const { dispatcher, drops } = gate({ queueLength: 1, overflow });
      const running = held();
      void dispatcher.submit(running.job, never);
      const first = dispatcher.submit(held().job, never);
      const second = dispatcher.submit(held().job, never);
      const lost = overflow === 'drop-oldest' ? first : second;
      const err = await rejection(lost);
      assert.equal(err.reason, expected, overflow);
      assert.deepEqual(drops, expected === 'dropped' ? ['dropped'] : [], overflow);
      dispatcher.close();
      await rejection(overflow === 'drop-oldest' ? second : first);
      running.state.finish();
    }
  });

  it('rejects every waiting job on close, and starts nothing after', async function () {
    const { dispatcher } = gate();
    const running = held();
    void dispatcher.submit(running.job, never);
    const waiting = dispatcher.submit(held().job, never);
    dispatcher.pause(10);
    dispatcher.close();
    assert.equal((await rejection(waiting)).reason, 'closed');
    assert.equal((await rejection(dispatcher.submit(held().job, never))).reason, 'closed');
    running.state.finish();
  });
});
