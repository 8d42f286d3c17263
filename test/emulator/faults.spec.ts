import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFaults } from '../../emulator/cli';
import type { FaultRule } from '../../emulator/faults';
import { startEmulator, type Emulator } from '../../emulator/server';

/**
 * One request, on a connection of its own so that a reset spoils nothing else; it resolves when the
 * response's headers arrive, and rejects when the connection fails before them.
 */
function call(
  emu: Emulator,
  route: string,
  init: { method?: string; body?: unknown; token?: string } = {},
): Promise<IncomingMessage> {
  const url = new URL(`${emu.url}${route}`);
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
  const headers: OutgoingHttpHeaders = {};
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  const options = { method: init.method ?? 'GET', headers, agent: false };
  return new Promise((resolve, reject) => {
    const req =
      url.protocol === 'https:'
        ? https.request(url, { ...options, ca: emu.ca }, resolve)
        : http.request(url, options, resolve);
    req.once('error', reject);
    req.end(payload);
  });
}

/** The body as it arrived, chunk by chunk; what came before an error is in `into`. */
async function chunks(res: IncomingMessage, into: Buffer[] = []): Promise<Buffer[]> {
  for await (const chunk of res) into.push(chunk as Buffer);
  return into;
}

async function json(res: IncomingMessage): Promise<unknown> {
  return JSON.parse(Buffer.concat(await chunks(res)).toString('utf8'));
}

async function login(emu: Emulator): Promise<string> {
  const res = await call(emu, '/api/v1/authenticate', {
    method: 'POST',
    body: { username: 'admin', password: 'admin' },
  });
  return ((await json(res)) as { token: string }).token;
}

/** A response's status, its body read and dropped. */
async function statusOf(response: Promise<IncomingMessage>): Promise<number | undefined> {
  const res = await response;
  res.resume();
  return res.statusCode;
}

const isReset = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ECONNRESET';
/** A TCP reset (RST) read by the client, where a closed connection would be "socket hang up". */
const isRst = (err: unknown) => isReset(err) && (err as Error).message === 'read ECONNRESET';

/** Reading a body that the server cuts off: headers first, then part of it, then a reset. */
async function assertCutOff(res: IncomingMessage, whole: Buffer): Promise<void> {
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  const received: Buffer[] = [];
  await assert.rejects(chunks(res, received), isReset);
  const part = Buffer.concat(received);
  assert.ok(part.length > 0 && part.length < whole.length, `${part.length} of ${whole.length} bytes`);
  assert.deepEqual(part, whole.subarray(0, part.length));
}

describe('emulator faults', () => {
  describe('over HTTP', () => {
    let emu: Emulator;
    let token: string;
    const listTags = () => call(emu, '/api/v1/Tags', { token });
    const createTag = (tagName: string) =>
      call(emu, '/api/v1/Tags', { method: 'POST', body: { tagName }, token });
    const tagNames = async () =>
      ((await json(await listTags())) as { tagName: string }[]).map((tag) => tag.tagName);

    before(async () => {
      emu = await startEmulator({ engine: 'simple', https: false });
      token = await login(emu);
      // A list of tags long enough to be cut in half or trickled in several chunks.
      for (const n of [1, 2, 3, 4]) {
        assert.equal(await statusOf(createTag(`padding-for-a-longer-body-${n}`)), 200);
      }
    });
    afterEach(() => emu.faults.clear());
    after(() => emu.close());

    it('answers a status fault with a problem and Retry-After in seconds, and no handler', async () => {
      emu.faults.add({ operations: ['createTag'], fault: { type: 'status', status: 503, retryAfter: 7 } });
      const res = await createTag('refused');
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['retry-after'], '7');
      assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.deepEqual(await json(res), {
        type: 'https://httpstatuses.io/503',
        title: 'Service Unavailable',
        status: 503,
        detail: 'an injected fault: status 503',
      });
      assert.ok(!(await tagNames()).includes('refused'));
    });

    it('sends Retry-After as an HTTP date, and none when the rule has none', async () => {
      const date = new Date(Date.now() + 60_000).toUTCString();
      const remove = emu.faults.add({ fault: { type: 'status', status: 429, retryAfter: date } });
      const limited = await listTags();
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.headers['retry-after'], date);
      assert.deepEqual(await json(limited), {
        type: 'https://httpstatuses.io/429',
        title: 'Too Many Requests',
        status: 429,
        detail: 'an injected fault: status 429',
      });
      remove();
      emu.faults.add({ fault: { type: 'status', status: 500 } });
      const failed = await listTags();
      assert.equal(failed.statusCode, 500);
      assert.equal(failed.headers['retry-after'], undefined);
      failed.resume();
    });

    it('resets before the headers: without running the handler, or after it when processed', async () => {
      const received = emu.counts.createTag ?? 0;
      emu.faults.add({ operations: ['createTag'], count: 1, fault: { type: 'reset-before-headers' } });
      await assert.rejects(createTag('lost'), isRst);
      emu.faults.add({
        operations: ['createTag'],
        count: 1,
        fault: { type: 'reset-before-headers', processed: true },
      });
      await assert.rejects(createTag('kept'), isRst);
      const names = await tagNames();
      assert.ok(!names.includes('lost'), 'the unprocessed request created its tag');
      assert.ok(names.includes('kept'), 'the processed request did not create its tag');
      assert.equal(emu.counts.createTag, received + 2);
    });

    it('resets after the headers and part of the body', async () => {
      const whole = Buffer.concat(await chunks(await listTags()));
      emu.faults.add({ operations: ['listTags'], fault: { type: 'reset-after-headers' } });
      await assertCutOff(await listTags(), whole);
    });

    it('stalls a request at least its ms, and only the operations named', async () => {
      emu.faults.add({ operations: ['listTags'], fault: { type: 'stall', ms: 300 } });
      let start = performance.now();
      const stalled = await listTags();
      // Timers run on a millisecond clock, so one may fire a fraction of a millisecond early.
      assert.ok(performance.now() - start >= 299, `answered after ${performance.now() - start} ms`);
      assert.equal(stalled.statusCode, 200);
      assert.ok(Array.isArray(await json(stalled)));
      start = performance.now();
      assert.equal(await statusOf(call(emu, '/api/v1/Tags/not-a-uuid', { token })), 400);
      assert.ok(performance.now() - start < 200, `another operation waited ${performance.now() - start} ms`);
    });

    it('applies a stall and another fault to one request, and counts both', async () => {
      const before = { ...emu.faults.injected };
      emu.faults.add({ operations: ['listTags'], fault: { type: 'status', status: 503 } });
      emu.faults.add({ operations: ['listTags'], fault: { type: 'stall', ms: 200 } });
      // A second rule of a kind already hit does not roll, let alone inject.
      emu.faults.add({ operations: ['listTags'], fault: { type: 'status', status: 502 } });
      const start = performance.now();
      assert.equal(await statusOf(listTags()), 503);
      assert.ok(performance.now() - start >= 199);
      const delta = (key: string) => (emu.faults.injected[key] ?? 0) - (before[key] ?? 0);
      assert.equal(delta('listTags:status'), 1);
      assert.equal(delta('listTags:stall'), 1);
      assert.equal(delta('createTag:status'), 0);
    });

    it('trickles a slow body in several chunks, whole', async () => {
      const whole = Buffer.concat(await chunks(await listTags()));
      emu.faults.add({ operations: ['listTags'], fault: { type: 'slow-body', bytesPerSecond: 1000 } });
      const start = performance.now();
      const res = await listTags();
      const received = await chunks(res);
      const elapsed = performance.now() - start;
      assert.equal(res.statusCode, 200);
      assert.deepEqual(Buffer.concat(received), whole);
      // 100-byte chunks every 100 ms: the last one leaves (chunks - 1) * 100 ms after the first.
      const expected = Math.ceil(whole.length / 100);
      assert.ok(expected >= 3, `the body is only ${whole.length} bytes`);
      assert.ok(received.length >= 3, `${received.length} chunks`);
      assert.ok(elapsed >= (expected - 1) * 100 - 5, `the body took ${elapsed} ms`);
    });

    it('leaves alone the operations not named, and requests that reach no operation', async () => {
      emu.faults.add({ operations: ['getTag', 'createTag'], fault: { type: 'status', status: 503 } });
      assert.equal(await statusOf(listTags()), 200);
      assert.equal(await statusOf(createTag('named')), 503);
      emu.faults.clear();
      emu.faults.add({ fault: { type: 'status', status: 503 } });
      assert.equal(await statusOf(call(emu, '/api/v1/nothing', { token })), 404);
      assert.equal(await statusOf(call(emu, '/auth/v1/user/profile', { token })), 503);
    });

    it('spends a rule after its count', async () => {
      const before = emu.faults.injected['listTags:status'] ?? 0;
      emu.faults.add({ operations: ['listTags'], count: 2, fault: { type: 'status', status: 503 } });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await statusOf(listTags()));
      assert.deepEqual(statuses, [503, 503, 200, 200]);
      assert.equal(emu.faults.injected['listTags:status'], before + 2);
    });

    it('removes a rule with its remover and every rule with clear(), which leaves rejectTokens', async () => {
      const remove = emu.faults.add({ operations: ['listTags'], fault: { type: 'status', status: 503 } });
      emu.faults.add({ operations: ['listTags'], fault: { type: 'status', status: 502 } });
      assert.equal(await statusOf(listTags()), 503);
      remove();
      remove();
      assert.equal(await statusOf(listTags()), 502);
      emu.faults.rejectTokens = true;
      try {
        emu.faults.clear();
        assert.equal(await statusOf(listTags()), 401);
      } finally {
        emu.faults.rejectTokens = false;
      }
      assert.equal(await statusOf(listTags()), 200);
    });

    const badRules: [unknown, RegExp][] = [
      [
        { operations: ['publsh'], fault: { type: 'stall', ms: 1 } },
        /operations has an unknown operation id "publsh"/,
      ],
      [{ operations: [], fault: { type: 'stall', ms: 1 } }, /operations must be a non-empty array/],
      [{ rate: 1.5, fault: { type: 'stall', ms: 1 } }, /rate must be a number from 0 to 1/],
      [{ rate: -0.1, fault: { type: 'stall', ms: 1 } }, /rate must be a number from 0 to 1/],
      [{ count: 0, fault: { type: 'stall', ms: 1 } }, /count must be a whole number >= 1/],
      [{ count: 1.5, fault: { type: 'stall', ms: 1 } }, /count must be a whole number >= 1/],
      [{ opertions: ['publish'], fault: { type: 'stall', ms: 1 } }, /unknown property opertions/],
      [{}, /fault must be an object/],
      [null, /a rule must be an object/],
      [{ fault: { type: 'teapot' } }, /fault\.type must be one of status, reset-before-headers/],
      [{ fault: { type: 'status', status: 99 } }, /fault\.status must be a whole number from 100 to 599/],
      [{ fault: { type: 'status', status: 600 } }, /fault\.status must be a whole number from 100 to 599/],
      [{ fault: { type: 'status', status: '503' } }, /fault\.status must be a whole number/],
      [{ fault: { type: 'status', status: 503, retryAfter: -1 } }, /fault\.retryAfter must be whole seconds/],
      [{ fault: { type: 'status', status: 503, retryAfter: 'soon' } }, /fault\.retryAfter must be/],
      [
        { fault: { type: 'reset-before-headers', processed: 'yes' } },
        /fault\.processed must be true or false/,
      ],
      [{ fault: { type: 'reset-after-headers', ms: 5 } }, /unknown property fault\.ms/],
      [{ fault: { type: 'stall' } }, /fault\.ms must be milliseconds/],
      [{ fault: { type: 'stall', ms: -1 } }, /fault\.ms must be milliseconds/],
      [{ fault: { type: 'slow-body', bytesPerSecond: 0 } }, /fault\.bytesPerSecond must be a number >= 1/],
    ];
    it('refuses a bad rule, naming what is wrong, and installs none of them', async () => {
      for (const [rule, message] of badRules) {
        assert.throws(
          () => emu.faults.add(rule as FaultRule),
          (err: unknown) =>
            err instanceof Error && /^bad fault rule /.test(err.message) && message.test(err.message),
          `${JSON.stringify(rule)} should be refused with ${message}`,
        );
      }
      assert.equal(await statusOf(listTags()), 200);
      await assert.rejects(
        startEmulator({
          engine: 'simple',
          https: false,
          faults: [{ rate: 2, fault: { type: 'stall', ms: 1 } }],
        }),
        /bad fault rule .*: rate must be a number from 0 to 1/,
      );
    });
  });

  it('rolls seeded dice: the same seed, the same requests hit; at about the rate', async () => {
    async function hits(faultSeed: number): Promise<boolean[]> {
      const emu = await startEmulator({
        engine: 'simple',
        https: false,
        faultSeed,
        faults: [{ operations: ['listTags'], rate: 0.3, fault: { type: 'status', status: 503 } }],
      });
      try {
        const seen: boolean[] = [];
        // Without a token: 401 unless the fault, which comes first, hits.
        for (let i = 0; i < 200; i++) seen.push((await statusOf(call(emu, '/api/v1/Tags'))) === 503);
        assert.equal(emu.faults.injected['listTags:status'], seen.filter(Boolean).length);
        return seen;
      } finally {
        await emu.close();
      }
    }
    const first = await hits(42);
    assert.deepEqual(await hits(42), first);
    const other = await hits(43);
    assert.notDeepEqual(other, first);
    for (const seen of [first, other]) {
      const rate = seen.filter(Boolean).length / seen.length;
      assert.ok(rate >= 0.15 && rate <= 0.45, `hit ${rate} of the requests`);
    }
  });

  it('resets over HTTPS too', async () => {
    const emu = await startEmulator({ engine: 'simple' });
    try {
      const token = await login(emu);
      const whole = Buffer.concat(await chunks(await call(emu, '/api/v1/Tags', { token })));
      emu.faults.add({ operations: ['listTags'], count: 1, fault: { type: 'reset-before-headers' } });
      await assert.rejects(call(emu, '/api/v1/Tags', { token }), isReset);
      emu.faults.add({ operations: ['listTags'], count: 1, fault: { type: 'reset-after-headers' } });
      await assertCutOff(await call(emu, '/api/v1/Tags', { token }), whole);
    } finally {
      await emu.close();
    }
  });

  it('closes at once with a request stalled and a body trickling, and leaves no timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    await new Promise((resolve) => setImmediate(resolve));
    const baseline = timers();
    const emu = await startEmulator({
      engine: 'simple',
      https: false,
      faults: [
        { operations: ['listTags'], fault: { type: 'stall', ms: 30_000 } },
        { operations: ['authenticate'], fault: { type: 'slow-body', bytesPerSecond: 1 } },
      ],
    });
    const stalled = call(emu, '/api/v1/Tags').then(
      () => assert.fail('the stalled request was answered'),
      (err: unknown) => err,
    );
    const trickling = await call(emu, '/api/v1/authenticate', {
      method: 'POST',
      body: { username: 'admin', password: 'admin' },
    });
    const cut = chunks(trickling).then(
      () => assert.fail('the slow body was finished'),
      (err: unknown) => err,
    );
    while (!emu.counts.listTags) await new Promise((resolve) => setTimeout(resolve, 5));
    const start = performance.now();
    await emu.close();
    assert.ok(performance.now() - start < 1000, `close took ${performance.now() - start} ms`);
    assert.ok(isReset(await stalled));
    assert.ok(isReset(await cut));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(timers() <= baseline, `${timers()} timers, ${baseline} before`);
  });

  describe('--faults', () => {
    const rules = [{ operations: ['publish'], rate: 0.1, fault: { type: 'status', status: 503 } }];
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'faults-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('takes a JSON array inline or in a file', () => {
      assert.deepEqual(parseFaults(` ${JSON.stringify(rules)}`), rules);
      const file = path.join(dir, 'faults.json');
      writeFileSync(file, JSON.stringify(rules));
      assert.deepEqual(parseFaults(file), rules);
    });

    it('says what is wrong with a bad value', () => {
      assert.throws(() => parseFaults('[{"fault":'), /^Error: --faults: .*JSON/);
      assert.throws(() => parseFaults(path.join(dir, 'missing.json')), /^Error: --faults: ENOENT/);
      const object = path.join(dir, 'object.json');
      writeFileSync(object, JSON.stringify(rules[0]));
      assert.throws(() => parseFaults(object), /--faults must be a JSON array of fault rules/);
    });

    it('stops the emulator with a clear message for a bad rule', async () => {
      const child = spawn(
        process.execPath,
        [
          '--require',
          'tsx/cjs',
          'emulator/cli.ts',
          '--http',
          '--port',
          '0',
          '--engine',
          'simple',
          '--faults',
          '[{"operations":["publsh"],"fault":{"type":"stall","ms":1}}]',
        ],
        { cwd: path.join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise((resolve) => child.once('exit', resolve));
      assert.equal(code, 1, output);
      assert.match(output, /bad fault rule .*operations has an unknown operation id "publsh"/);
      assert.match(output, /usage: .*--faults FILE\|JSON/);
      assert.doesNotMatch(output, /listening on/);
    });
  });
});
