/**
 * The outbox on disk (nodes/lib/outbox.ts) and its courier (nodes/lib/outbox-delivery.ts), alone:
 * order, restarts, a kill -9 mid-write or mid-send, damaged files, the bounds, the server identity
 * and the file permissions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiError } from '../../client/errors';
import { Courier } from '../../nodes/lib/outbox-delivery';
import {
  Outbox,
  encodeEntry,
  serverIdentity,
  type DropReason,
  type OutboxEntry,
  type OutboxOptions,
} from '../../nodes/lib/outbox';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);
const SERVER = serverIdentity('https://a.example/identities', 'edge');

export function entry(n: number): OutboxEntry {
  return {
    expanded: Buffer.concat([JPEG, Buffer.from(`image ${n}`)]),
    detectorName: 'Door',
    ianaTimeZone: 'Europe/Berlin',
    detectTimeUtc: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString().replace('.000', ''),
  };
}

interface Opened {
  outbox: Outbox;
  drops: { reason: DropReason; count: number; detail?: string }[];
}

async function open(dir: string, options: Partial<OutboxOptions> = {}): Promise<Opened> {
  const drops: Opened['drops'] = [];
  const outbox = await Outbox.open({
    dir,
    identity: SERVER,
    maxBytes: 10 * 1024 * 1024,
    maxAgeMs: 3600_000,
    adopt: false,
    mode: 0o750,
    onDrop: (reason, count, detail) => drops.push({ reason, count, detail }),
    ...options,
  });
  return { outbox, drops };
}

/** Takes every entry out in order, as a delivery would, and returns their detection times. */
async function drain(outbox: Outbox): Promise<string[]> {
  const times: string[] = [];
  for (let next = await outbox.next(); next; next = await outbox.next()) {
    times.push(next.detectTimeUtc);
    await outbox.delivered(next);
  }
  return times;
}

const entryFiles = (dir: string, suffix = '.entry') =>
  readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .sort();

describe('outbox on disk', function () {
  let dir: string;
  beforeEach(() => {
    dir = path.join(mkdtempSync(path.join(tmpdir(), 'outbox-')), 'server-1');
  });
  afterEach(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

  it('gives entries back in the order they were added, with their fields, and deletes each once delivered', async function () {
    const { outbox } = await open(dir);
    await Promise.all([1, 2, 3].map((n) => outbox.add(entry(n))));
    assert.equal(outbox.count, 3);
    const first = await outbox.next();
    assert.deepEqual(
      { ...first, seq: undefined, storedAtMs: undefined },
      { ...entry(1), seq: undefined, storedAtMs: undefined },
    );
    await outbox.delivered(first!);
    assert.equal(entryFiles(dir).length, 2);
    assert.deepEqual(
      await drain(outbox),
      [entry(2), entry(3)].map((e) => e.detectTimeUtc),
    );
    assert.deepEqual(entryFiles(dir), []);
    assert.equal(outbox.bytes, 0);
  });

  it('keeps entries and their order across a restart, and numbers new ones after them', async function () {
    const first = await open(dir);
    for (const n of [1, 2]) await first.outbox.add(entry(n));
    await first.outbox.close();
    const second = await open(dir);
    assert.equal(second.outbox.count, 2);
    await second.outbox.add(entry(3));
    assert.deepEqual(
      await drain(second.outbox),
      [1, 2, 3].map((n) => entry(n).detectTimeUtc),
    );
  });

  it('an entry given back as unsent (kept) is the next one again', async function () {
    const { outbox } = await open(dir);
    for (const n of [1, 2]) await outbox.add(entry(n));
    const head = await outbox.next();
    await outbox.kept(head!);
    assert.equal((await outbox.next())?.detectTimeUtc, entry(1).detectTimeUtc);
  });

  it('after a kill -9 mid-write: the temporary file is removed and the entries before it are intact', async function () {
    const first = await open(dir);
    await first.outbox.add(entry(1));
    // What a write interrupted before its rename leaves: half a file under the temporary name.
    const whole = encodeEntry(entry(2), Date.now());
    writeFileSync(
      path.join(dir, `0000000000000002-${String(Date.now()).padStart(16, '0')}.entry.tmp`),
      whole.subarray(0, 20),
    );
    const second = await open(dir);
    assert.deepEqual(second.drops, []);
    assert.deepEqual(await drain(second.outbox), [entry(1).detectTimeUtc]);
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.endsWith('.tmp')),
      [],
    );
  });

  it('a damaged or truncated entry is skipped with a report and removed; the next one is delivered', async function () {
    const first = await open(dir);
    for (const n of [1, 2, 3, 4]) await first.outbox.add(entry(n));
    const [one, two] = entryFiles(dir).map((name) => path.join(dir, name));
    const flipped = readFileSync(one!);
    flipped[flipped.length - 40] ^= 0xff;
    writeFileSync(one!, flipped);
    writeFileSync(two!, readFileSync(two!).subarray(0, 30));
    const second = await open(dir);
    assert.deepEqual(
      await drain(second.outbox),
      [3, 4].map((n) => entry(n).detectTimeUtc),
    );
    assert.deepEqual(
      second.drops.map(({ reason, count }) => [reason, count]),
      [
        ['corrupt', 1],
        ['corrupt', 1],
      ],
    );
    assert.match(second.drops[0]?.detail ?? '', /0000000000000001-.*checksum/);
    assert.deepEqual(entryFiles(dir), []);
  });

  it('an entry being sent when the process died is not sent again (it may have arrived): counted as interrupted', async function () {
    const first = await open(dir);
    for (const n of [1, 2]) await first.outbox.add(entry(n));
    assert.ok(await first.outbox.next());
    // No delivered() or kept(): the process is gone with the request out.
    const second = await open(dir);
    assert.deepEqual(second.drops, [{ reason: 'interrupted', count: 1, detail: undefined }]);
    assert.deepEqual(await drain(second.outbox), [entry(2).detectTimeUtc]);
  });

  it('past the size limit the oldest entries are dropped and counted', async function () {
    const size = encodeEntry(entry(1), Date.now()).length;
    const { outbox, drops } = await open(dir, { maxBytes: size * 3 });
    for (const n of [1, 2, 3, 4, 5]) await outbox.add(entry(n));
    assert.equal(outbox.count, 3);
    assert.deepEqual(
      drops.map(({ reason, count }) => [reason, count]),
      [
        ['size', 1],
        ['size', 1],
      ],
    );
    assert.deepEqual(
      await drain(outbox),
      [3, 4, 5].map((n) => entry(n).detectTimeUtc),
    );
    assert.deepEqual(entryFiles(dir), []);
  });

  it('entries older than the maximum age are dropped and counted, also after a restart', async function () {
    let now = 1_000_000;
    const first = await open(dir, { now: () => now, maxAgeMs: 60_000 });
    await first.outbox.add(entry(1));
    now += 30_000;
    await first.outbox.add(entry(2));
    now += 40_000;
    const second = await open(dir, { now: () => now, maxAgeMs: 60_000 });
    assert.deepEqual(second.drops, [{ reason: 'age', count: 1, detail: undefined }]);
    assert.deepEqual(await drain(second.outbox), [entry(2).detectTimeUtc]);
  });

  it('entries kept for another server URL or user are held aside, not given out, until adopted', async function () {
    const first = await open(dir);
    for (const n of [1, 2]) await first.outbox.add(entry(n));
    const other = serverIdentity('https://b.example/identities', 'edge');
    const moved = await open(dir, { identity: other });
    assert.equal(moved.outbox.count, 0);
    assert.equal(moved.outbox.held, 2);
    await moved.outbox.add(entry(3));
    assert.equal(await moved.outbox.next().then((e) => e?.detectTimeUtc), entry(3).detectTimeUtc);
    // Told to adopt: the held entries join this server's queue, first (entry 3 was out for sending
    // when this outbox stopped: it may have arrived and is not sent again).
    const adopted = await open(dir, { identity: other, adopt: true });
    assert.deepEqual(
      await drain(adopted.outbox),
      [1, 2].map((n) => entry(n).detectTimeUtc),
    );
  });

  it('the identity is a hash of URL and user name: the password is not in it, and the directory never holds it', async function () {
    assert.equal(serverIdentity('https://a.example/identities', 'edge'), SERVER);
    assert.notEqual(serverIdentity('https://a.example/identities', 'other'), SERVER);
    const { outbox } = await open(dir);
    await outbox.add(entry(1));
    assert.doesNotMatch(readFileSync(path.join(dir, 'server.json'), 'utf8'), /a\.example|edge/);
  });

  it("files and the directory get the permissions given (the user directory's), whatever the umask", async function () {
    const umask = process.umask(0o077);
    try {
      const { outbox } = await open(dir, { mode: 0o750 });
      await outbox.add(entry(1));
      assert.equal(statSync(dir).mode & 0o777, 0o750);
      assert.equal(statSync(path.join(dir, entryFiles(dir)[0]!)).mode & 0o777, 0o640);
    } finally {
      process.umask(umask);
    }
  });
});

describe('outbox courier', function () {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'courier-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const unsent = () =>
    new ApiError({ operation: 'publish', code: 'NETWORK', message: 'refused', unsent: true });
  const mayHaveArrived = () => new ApiError({ operation: 'publish', code: 'TIMEOUT', message: 'no answer' });

  async function deliver(failures: (n: number, attempt: number) => ApiError | undefined) {
    const { outbox } = await open(dir);
    for (const n of [1, 2, 3]) await outbox.add(entry(n));
    const sent: string[] = [];
    const lost: unknown[] = [];
    const attempts = new Map<string, number>();
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const courier = new Courier({
      outbox,
      baseDelayMs: 1,
      maxDelayMs: 2,
      send: async (e) => {
        const attempt = (attempts.get(e.detectTimeUtc) ?? 0) + 1;
        attempts.set(e.detectTimeUtc, attempt);
        const err = failures(Number(e.detectTimeUtc.slice(17, 19)), attempt);
        if (err) throw err;
        sent.push(e.detectTimeUtc);
      },
      onLost: (err) => lost.push(err),
      onStorageError: (err) => assert.fail(String(err)),
      onChange: () => {
        if (outbox.count === 0) finished();
      },
    });
    courier.wake(false);
    await done;
    await courier.stop();
    return { sent, lost, outbox };
  }

  it('delivers oldest first and tries an entry whose request never left again, before the next one', async function () {
    const { sent, lost } = await deliver((n, attempt) => (n === 2 && attempt < 3 ? unsent() : undefined));
    assert.deepEqual(
      sent,
      [1, 2, 3].map((n) => entry(n).detectTimeUtc),
    );
    assert.deepEqual(lost, []);
  });

  it('an entry whose request may have arrived is not sent again: it is reported as lost and removed', async function () {
    const { sent, lost } = await deliver((n) => (n === 2 ? mayHaveArrived() : undefined));
    assert.deepEqual(
      sent,
      [1, 3].map((n) => entry(n).detectTimeUtc),
    );
    assert.equal(lost.length, 1);
    assert.deepEqual(entryFiles(dir), []);
  });
});
