import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import sharp from 'sharp';
import { json } from '../../client/bodies';
import { IdentitiesClient } from '../../client/client';
import { Transport } from '../../client/http';
import { ApiError, type ApiErrorInit } from '../../client/errors';
import { isTransient, RetryPolicy, type RetryOptions } from '../../client/retry';
import { startEmulator, type Emulator } from '../../emulator/server';

const NOW = 1_000_000;

function error(init: Partial<ApiErrorInit>): ApiError {
  return new ApiError({ operation: 'getPerson', code: 'SERVER_ERROR', message: 'x', ...init });
}

const reset = error({ code: 'NETWORK', causeCode: 'ECONNRESET' });
const refused = error({ code: 'NETWORK', causeCode: 'ECONNREFUSED', unsent: true });

describe('retry policy', () => {
  it('tells transient failures from answers', () => {
    const transient = [
      reset,
      error({ code: 'TIMEOUT' }),
      ...[408, 429, 500, 502, 503, 504].map((status) =>
        error({ code: status === 429 ? 'RATE_LIMITED' : 'SERVER_ERROR', status }),
      ),
    ];
    const permanent = [
      error({ code: 'BAD_REQUEST', status: 400 }),
      error({ code: 'AUTH_FAILED', status: 401 }),
      error({ code: 'NOT_FOUND', status: 404 }),
      error({ code: 'SERVER_ERROR', status: 501 }),
      error({ code: 'TLS', causeCode: 'CERT_HAS_EXPIRED', unsent: true }),
      error({ code: 'NETWORK', causeCode: 'ERR_PROXY_AUTH', unsent: true }),
      error({ code: 'ABORTED' }),
      error({ code: 'CLOSED' }),
      error({ code: 'INVALID_INPUT' }),
    ];
    for (const err of transient) assert.equal(isTransient(err), true, `${err.code} ${err.status}`);
    for (const err of permanent) assert.equal(isTransient(err), false, `${err.code} ${err.status}`);
  });

  it('waits a full-jitter backoff that doubles per attempt up to the cap', () => {
    const top = new RetryPolicy({
      random: () => 0.999999,
      baseDelayMs: 100,
      maxDelayMs: 700,
      maxRetries: 9,
      budgetTokens: 100,
    });
    const bounds = [0, 1, 2, 3, 4].map((attempt) => top.delayBefore(reset, attempt, true, Infinity, NOW));
    assert.deepEqual(
      bounds.map((delay) => Math.round(delay ?? -1)),
      [100, 200, 400, 700, 700],
    );
    const bottom = new RetryPolicy({ random: () => 0, baseDelayMs: 100 });
    assert.equal(bottom.delayBefore(reset, 2, true, Infinity, NOW), 0);
  });

  it('repeats an operation that is not idempotent only when its request never left', () => {
    const policy = new RetryPolicy({ random: () => 0.5 });
    assert.equal(policy.delayBefore(reset, 0, false, Infinity, NOW), undefined);
    assert.equal(policy.delayBefore(error({ code: 'TIMEOUT' }), 0, false, Infinity, NOW), undefined);
    assert.equal(policy.delayBefore(error({ status: 503 }), 0, false, Infinity, NOW), undefined);
    assert.equal(typeof policy.delayBefore(refused, 0, false, Infinity, NOW), 'number');
  });

  it('gives up after maxRetries, and never retries an answer', () => {
    const policy = new RetryPolicy({ maxRetries: 2, random: () => 0.5 });
    assert.equal(typeof policy.delayBefore(reset, 1, true, Infinity, NOW), 'number');
    assert.equal(policy.delayBefore(reset, 2, true, Infinity, NOW), undefined);
    assert.equal(
      policy.delayBefore(error({ code: 'NOT_FOUND', status: 404 }), 0, true, Infinity, NOW),
      undefined,
    );
  });

  it('waits at least a Retry-After, and gives up on one longer than allowed', () => {
    const policy = new RetryPolicy({ random: () => 0, maxRetryAfterMs: 5000 });
    const limited = (retryAfterMs: number) => error({ code: 'RATE_LIMITED', status: 429, retryAfterMs });
    assert.equal(policy.delayBefore(limited(1500), 0, true, Infinity, NOW), 1500);
    assert.equal(policy.delayBefore(limited(6000), 0, true, Infinity, NOW), undefined);
  });

  it('does not wait past the deadline', () => {
    const policy = new RetryPolicy({ random: () => 0 });
    const limited = error({ code: 'RATE_LIMITED', status: 429, retryAfterMs: 2000 });
    assert.equal(policy.delayBefore(limited, 0, true, NOW + 1999, NOW), undefined);
    assert.equal(policy.delayBefore(limited, 0, true, NOW + 2001, NOW), 2000);
  });

  it('spends a budget in an outage and earns it back with successes', () => {
    const policy = new RetryPolicy({ random: () => 0, budgetTokens: 10, budgetTokenRatio: 0.1 });
    const allowed = Array.from({ length: 8 }, () => policy.delayBefore(reset, 0, true, Infinity, NOW));
    // 10 tokens, retries while more than 5 are left: the first four failures are retried.
    assert.deepEqual(
      allowed.map((delay) => delay !== undefined),
      [true, true, true, true, false, false, false, false],
    );
    // An answer (a 404) earns like a success: a tenth.
    policy.delayBefore(error({ code: 'NOT_FOUND', status: 404 }), 0, true, Infinity, NOW);
    assert.equal(Math.round(policy.budget * 10), 21);
    // A failure costs its token before the check: 7 tokens leave 6, more than half.
    for (let i = 0; i < 49; i++) policy.succeeded();
    assert.equal(Math.round(policy.budget * 10), 70);
    assert.equal(typeof policy.delayBefore(reset, 0, true, Infinity, NOW), 'number');
  });
});

/** A TCP relay to the emulator that can be taken down (connections then refused) and brought back on the same port. */
class Relay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: number) {}

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

describe('retries against the emulator', function () {
  let emu: Emulator;
  let face: Buffer;

  before(async function () {
    emu = await startEmulator({ https: false, engine: 'simple', log: () => undefined });
    face = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 3, g: 200, b: 9 } } })
      .jpeg()
      .toBuffer();
  });

  after(async function () {
    await emu.close();
  });

  afterEach(function () {
    emu.faults.clear();
  });

  it('sends an enrollment again when its connection was refused, and it is recorded once', async function () {
    const relay = new Relay(emu.port);
    await relay.up();
    const retried: string[] = [];
    const client = new IdentitiesClient({
      baseUrl: `http://127.0.0.1:${relay.port}`,
      username: 'admin',
      password: 'admin',
      retry: { baseDelayMs: 400, random: () => 0.99 },
      // The first failure brings the server back before the retry.
      log: (_level, message) => {
        if (message.includes('trying again')) {
          retried.push(message);
          void relay.up();
        }
      },
    });
    await client.login();
    await relay.down();
    // Time for the client to see its idle keep-alive socket closed: the enrollment then needs a new
    // connection, which is refused. (A request written to a socket the peer closed meanwhile may
    // have reached a server, as far as the client can tell: that one is not repeated.)
    await new Promise((resolve) => setTimeout(resolve, 100));
    const people = emu.store.allPeople().length;
    const before = emu.counts.faceEnroll ?? 0;
    const enrolled = await client.faceEnroll({ faceImage: face });
    assert.equal(retried.length, 1);
    assert.match(retried[0] ?? '', /connection refused/);
    assert.equal((emu.counts.faceEnroll ?? 0) - before, 1, 'the refused attempt never reached the server');
    assert.equal(emu.store.allPeople().length, people + 1);
    assert.ok(enrolled.personId);
    client.close();
    await relay.down();
  });

  it('ends a call waiting for its next attempt as soon as the client closes', async function () {
    emu.faults.add({ operations: ['listTags'], fault: { type: 'status', status: 503 } });
    let close = () => undefined as unknown;
    const client = new IdentitiesClient({
      baseUrl: emu.url,
      username: 'admin',
      password: 'admin',
      retry: { baseDelayMs: 30_000, random: () => 0.99 },
      log: (_level, message) => {
        if (message.includes('trying again')) close();
      },
    });
    close = () => setImmediate(() => client.close());
    const started = Date.now();
    await assert.rejects(client.listTags(), (err: ApiError) => {
      assert.equal(err.code, 'CLOSED');
      assert.equal(err.message, 'listTags: client closed');
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'not after the 30 s backoff');
  });

  it('does not multiply the load in an outage: retries stop once most requests fail', async function () {
    emu.faults.add({ operations: ['listTags'], fault: { type: 'status', status: 503 } });
    const client = new IdentitiesClient({
      baseUrl: emu.url,
      username: 'admin',
      password: 'admin',
      retry: { baseDelayMs: 1 },
    });
    await client.login();
    const before = emu.counts.listTags ?? 0;
    for (let i = 0; i < 50; i++) {
      await assert.rejects(client.listTags(), (err: ApiError) => err.code === 'SERVER_ERROR');
    }
    const requests = (emu.counts.listTags ?? 0) - before;
    // Without a budget: 50 x 4 = 200. With it: the first call's three retries spend the budget
    // down to half, and from then on every call is one request.
    assert.equal(requests, 50 + 3);
    client.close();
  });

  /** Requests `operation` received while `work` ran. */
  async function requestsOf(operation: string, work: () => Promise<unknown>): Promise<number> {
    const before = emu.counts[operation] ?? 0;
    await work();
    return (emu.counts[operation] ?? 0) - before;
  }

  const admin = (retry: RetryOptions = {}) =>
    new IdentitiesClient({
      baseUrl: emu.url,
      username: 'admin',
      password: 'admin',
      retry: { baseDelayMs: 10, random: () => 0.5, ...retry },
    });

  it('publish: never sent again once it may have reached the server (a 5xx, a reset)', async function () {
    const client = admin();
    await client.login();
    for (const fault of [
      { type: 'status', status: 503 },
      { type: 'reset-before-headers', processed: true },
    ] as const) {
      emu.faults.add({ operations: ['publish'], count: 1, fault });
      const sent = await requestsOf('publish', () =>
        assert.rejects(client.publish({ expanded: face, detectorName: 'door' })),
      );
      assert.equal(sent, 1, fault.type);
    }
    client.close();
  });

  it('recognize: never sent again once it may have reached the server (it carries a detector and a time)', async function () {
    const client = admin();
    await client.login();
    emu.faults.add({ operations: ['recognize'], count: 1, fault: { type: 'status', status: 503 } });
    const sent = await requestsOf('recognize', () =>
      assert.rejects(client.recognize({ croppedAligned: face, detectorName: 'door' })),
    );
    assert.equal(sent, 1);
    client.close();
  });

  it('publishWithResponse: sent again after a 503 with allowDoubleDetection false, never with it true', async function () {
    const client = admin();
    emu.faults.add({ operations: ['publishWithResponse'], count: 1, fault: { type: 'status', status: 503 } });
    const retried = await requestsOf('publishWithResponse', async () => {
      const { detectedFaces } = await client.publishWithResponse({ expanded: face, detectorName: 'door' });
      assert.equal(detectedFaces.length, 1);
    });
    assert.equal(retried, 2);
    emu.faults.add({ operations: ['publishWithResponse'], count: 1, fault: { type: 'status', status: 503 } });
    const once = await requestsOf('publishWithResponse', () =>
      assert.rejects(
        client.publishWithResponse({ expanded: face, detectorName: 'door', allowDoubleDetection: true }),
        (err: ApiError) => err.status === 503,
      ),
    );
    assert.equal(once, 1);
    client.close();
  });

  it('publishWithResponse: no retry that would start later than 5 s after the first attempt', async function () {
    // A backoff of 0.99 x 6 s ends after the window: the client gives up at once instead of waiting.
    const client = admin({ baseDelayMs: 6_000, random: () => 0.99 });
    emu.faults.add({ operations: ['publishWithResponse'], count: 1, fault: { type: 'status', status: 503 } });
    const sent = await requestsOf('publishWithResponse', () =>
      assert.rejects(
        client.publishWithResponse({ expanded: face, detectorName: 'door' }),
        (err: ApiError) => err.status === 503,
      ),
    );
    assert.equal(sent, 1);
    client.close();
  });

  it("faces/*: a 500 (the guide's image rejected) is not sent again; a 503 is", async function () {
    const client = admin();
    emu.faults.add({ operations: ['faceDetect'], count: 1, fault: { type: 'status', status: 500 } });
    const rejected = await requestsOf('faceDetect', () =>
      assert.rejects(client.faceDetect({ image: face }), (err: ApiError) => err.status === 500),
    );
    assert.equal(rejected, 1);
    emu.faults.add({ operations: ['faceDetect'], count: 1, fault: { type: 'status', status: 503 } });
    const retried = await requestsOf('faceDetect', async () => {
      assert.equal((await client.faceDetect({ image: face })).detections.length, 1);
    });
    assert.equal(retried, 2);
    client.close();
  });

  it('gives an attempt no more time than the deadline leaves', async function () {
    emu.faults.add({ operations: ['listTags'], fault: { type: 'stall', ms: 5000 } });
    const client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
    await client.login();
    await assert.rejects(
      client.listTags({}, { timeoutMs: 10_000, deadline: Date.now() + 300 }),
      (err: ApiError) => {
        assert.equal(err.code, 'TIMEOUT');
        const ms = Number(/no answer within (\d+) ms/.exec(err.message)?.[1]);
        assert.ok(ms > 0 && ms <= 300, err.message);
        return true;
      },
    );
    client.close();
  });
});

describe('transport: what a timeout leaves on the server', function () {
  it('a timeout before the request left (a server that never answers the TLS handshake) is unsent', async function () {
    // Accepts the connection and says nothing: the handshake never ends, so no byte of the request is sent.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const transport = new Transport({});
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new ApiError({ operation: 'publish', code: 'TIMEOUT', message: 'no answer' })),
      300,
    );
    try {
      await assert.rejects(
        transport.send({
          operation: 'publish',
          method: 'POST',
          url: `https://127.0.0.1:${port}/api/v1/faceEdge/publish`,
          body: json({ detectorName: 'door' }),
          signal: controller.signal,
        }),
        (err: ApiError) => err.code === 'TIMEOUT' && err.unsent,
      );
    } finally {
      clearTimeout(timer);
      transport.close();
      silent.close();
    }
  });
});
