/**
 * The outbox in a flow: a fire-and-forget publish node on a config node with the option on, against
 * an emulator that is stopped and started again.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { OUTBOX_FOLDER } from '../../nodes/lib/server-outbox';
import {
  ask,
  assertCaught,
  credentials,
  eventually,
  face,
  helper,
  helperNodes,
  load,
  loggedTexts,
  node,
  statuses,
} from '../nodes/harness';
import { fireAndForget, outboxServer, RestartableEmulator, userDirectory } from './support';

const waiting = () => (node('server') as unknown as { outbox?: { waiting: number } }).outbox?.waiting;

describe('outbox in a flow', function () {
  this.timeout(60_000);
  let emu: RestartableEmulator;
  let userDir: ReturnType<typeof userDirectory>;
  let photo: Buffer;

  before(async function () {
    photo = await face(30);
  });

  beforeEach(async function () {
    userDir = userDirectory();
    emu = new RestartableEmulator();
    await emu.start();
  });

  /** The flow, once its outbox has opened (until then new detections queue in it, behind any from before). */
  async function start(...args: Parameters<typeof load>): Promise<void> {
    await load(...args);
    await eventually(() => waiting() === 0);
  }

  afterEach(async function () {
    await helper.unload();
    await emu.dispose();
    userDir.release();
  });

  it('keeps detections while the server is down and delivers them in order, each once, with the time of its first attempt', async function () {
    await start([outboxServer(emu), fireAndForget('Door'), ...helperNodes('out')], credentials('admin'));
    await ask('publish', { payload: photo, detectTime: '2026-03-01T10:00:00Z' }, 'out');
    await emu.stop();
    const firstAttempt = Math.floor(Date.now() / 1000) * 1000;
    const kept = await ask('publish', { payload: photo }, 'out', 20_000);
    await ask('publish', { payload: photo, detectTime: '2026-03-01T10:00:02Z' }, 'out');
    const lastKept = Date.now();
    assert.equal(kept.payload, photo);
    assert.ok(statuses('publish').some((s) => s.text === 'kept in the outbox'));
    await eventually(() => statuses('publish').some((s) => s.text === 'outbox: 2 waiting'));
    assert.equal(
      readdirSync(path.join(userDir.dir, OUTBOX_FOLDER, 'server')).filter((f) => f.endsWith('.entry')).length,
      2,
    );
    // The time that must be recorded for the message without one is before the server comes back.
    await eventually(() => Math.floor(Date.now() / 1000) > Math.floor(lastKept / 1000), 5000);
    await emu.start();
    await eventually(() => emu.times('Door').length === 3, 30_000);
    const [first, second, third] = emu.times('Door');
    assert.equal(first, '2026-03-01T10:00:00Z');
    assert.ok(Date.parse(second!) >= firstAttempt && Date.parse(second!) <= lastKept, `${second}`);
    assert.equal(third, '2026-03-01T10:00:02Z');
    await eventually(() => waiting() === 0);
    assert.deepEqual(
      readdirSync(path.join(userDir.dir, OUTBOX_FOLDER, 'server')).filter((f) => f.endsWith('.entry')),
      [],
    );
    await eventually(() => statuses('publish').at(-1)?.text === undefined);
  });

  it('off (the default): a detection the server did not get fails as before, and nothing is written', async function () {
    await load(
      [outboxServer(emu, { outbox: false }), fireAndForget('Door'), ...helperNodes('out')],
      credentials('admin'),
    );
    await emu.stop();
    await assertCaught(ask('publish', { payload: photo }, 'out', 20_000), 'NETWORK');
    assert.equal(existsSync(path.join(userDir.dir, OUTBOX_FOLDER)), false);
  });

  it("a changed server URL does not get the old server's detections unless the user says so", async function () {
    await start([outboxServer(emu), fireAndForget('Door'), ...helperNodes('out')], credentials('admin'));
    await emu.stop();
    await ask('publish', { payload: photo, detectTime: '2026-03-01T10:00:00Z' }, 'out', 20_000);
    await helper.unload();
    const other = new RestartableEmulator();
    try {
      await other.start();
      await load([outboxServer(other), fireAndForget('Door'), ...helperNodes('out')], credentials('admin'));
      await eventually(() => loggedTexts().some((t) => t.includes('kept for another server URL or user')));
      await ask('publish', { payload: photo, detectTime: '2026-03-01T10:00:05Z' }, 'out');
      assert.deepEqual(other.times('Door'), ['2026-03-01T10:00:05Z']);
      await helper.unload();
      await load(
        [outboxServer(other, { outboxAdopt: true }), fireAndForget('Door'), ...helperNodes('out')],
        credentials('admin'),
      );
      await eventually(() => other.times('Door').length === 2, 20_000);
      assert.deepEqual(other.times('Door'), ['2026-03-01T10:00:05Z', '2026-03-01T10:00:00Z']);
    } finally {
      await other.dispose();
    }
  });

  it('a detection that may have reached the server (reset after it was sent) is not kept: it fails as before', async function () {
    await start([outboxServer(emu), fireAndForget('Door'), ...helperNodes('out')], credentials('admin'));
    await ask('publish', { payload: photo, detectTime: '2026-03-01T10:00:00Z' }, 'out');
    emu.current?.faults.add({
      operations: ['publish'],
      count: 1,
      fault: { type: 'reset-before-headers', processed: true },
    });
    await assertCaught(
      ask('publish', { payload: photo, detectTime: '2026-03-01T10:00:01Z' }, 'out'),
      'NETWORK',
    );
    assert.equal(waiting(), 0);
    assert.deepEqual(emu.times('Door'), ['2026-03-01T10:00:00Z', '2026-03-01T10:00:01Z']);
  });
});
