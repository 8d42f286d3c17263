/**
 * Issue 15's scenario: the server stopped for 2 minutes while 5 detections a second go through a
 * fire-and-forget publish node, Node-RED restarted in the middle of the outage, then the server
 * back: every detection is recorded exactly once, with its original time, in order. About 2.5
 * minutes; nothing asserted depends on the machine's speed (each message is sent once the one
 * before it has ended, at most 5 a second, and the waits are for conditions).
 */
import assert from 'node:assert/strict';
import { ask, credentials, eventually, face, helper, helperNodes, load, node } from '../nodes/harness';
import { fireAndForget, outboxServer, RestartableEmulator, userDirectory } from './support';

const RATE_PER_SECOND = 5;
const HALF_OUTAGE_MS = 60_000;
const DETECTOR = 'OutageDoor';
const BASE_TIME = Date.UTC(2026, 5, 1, 8, 0, 0);

const waiting = () => (node('server') as unknown as { outbox?: { waiting: number } }).outbox?.waiting;

describe('outbox through a 2-minute outage with a Node-RED restart', function () {
  this.timeout(10 * 60_000);
  let emu: RestartableEmulator;
  let userDir: ReturnType<typeof userDirectory>;

  before(async function () {
    userDir = userDirectory();
    emu = new RestartableEmulator();
    await emu.start();
  });

  after(async function () {
    await helper.unload();
    await emu.dispose();
    userDir.release();
  });

  it('records every detection once, at its own time, in order', async function () {
    const photo = await face(77);
    const flow = () => [outboxServer(emu), fireAndForget(DETECTOR), ...helperNodes('out')];
    const start = async () => {
      await load(flow(), credentials('admin'));
      await eventually(() => waiting() === 0, 30_000);
    };
    const sent: string[] = [];
    /** Detections for `ms` at the rate, each a second after the one before in detection time. */
    const detections = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const due = Date.now() + 1000 / RATE_PER_SECOND;
        const detectTime = new Date(BASE_TIME + sent.length * 1000).toISOString().replace('.000', '');
        sent.push(detectTime);
        // An output: published, or kept in the outbox. A Catch would reject, and fail the test.
        await ask('publish', { payload: photo, detectTime }, 'out', 60_000);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      }
    };

    await start();
    await detections(3000);
    await emu.stop();
    await detections(HALF_OUTAGE_MS);
    const beforeRestart = waiting() ?? 0;
    assert.ok(beforeRestart > 0, 'detections are waiting in the outbox');
    await helper.unload();
    // Node-RED starts again with the server still down: what was kept is there, in order.
    await load(flow(), credentials('admin'));
    await detections(HALF_OUTAGE_MS);
    await emu.start();
    await detections(5000);
    await eventually(() => waiting() === 0, 5 * 60_000);
    await eventually(() => emu.times(DETECTOR).length >= sent.length, 30_000);
    assert.deepEqual(emu.times(DETECTOR), sent);
  });
});
