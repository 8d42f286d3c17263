import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyBuffers, jsonWithBase64, type BuiltBody } from '../../client/bodies';
import { ApiError } from '../../client/errors';
import { Transport } from '../../client/http';

const KB = 1024;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('body buffers', () => {
  it('gives released memory to the next body of its size class, and never memory still in use', () => {
    const buffers = new BodyBuffers();
    const first = buffers.take(270 * KB);
    const second = buffers.take(270 * KB);
    assert.notEqual(first.data.buffer, second.data.buffer);
    assert.equal(first.data.length, 270 * KB);
    first.release?.();
    first.release?.();
    assert.equal(buffers.retained > 0, true);
    // A little smaller or larger falls in the same class; both take the one released buffer at most.
    const third = buffers.take(260 * KB);
    assert.equal(third.data.buffer, first.data.buffer);
    assert.equal(third.data.length, 260 * KB);
    const fourth = buffers.take(270 * KB);
    assert.notEqual(fourth.data.buffer, first.data.buffer);
    assert.notEqual(fourth.data.buffer, second.data.buffer);
    assert.equal(buffers.retained, 0);
  });

  it('leaves small bodies to Buffer.allocUnsafe and keeps no more than its limit', () => {
    const buffers = new BodyBuffers(1024 * KB);
    assert.equal(buffers.take(10 * KB).release, undefined);
    const taken = [1, 2, 3, 4, 5].map(() => buffers.take(300 * KB));
    for (const { release } of taken) release?.();
    assert.ok(buffers.retained <= 1024 * KB && buffers.retained > 0, `retained ${buffers.retained}`);
  });

  it('writes the same JSON into reused memory as into fresh memory', () => {
    const buffers = new BodyBuffers();
    const image = randomBytes(200 * KB);
    const fresh = jsonWithBase64({ zone: 'Europe/Berlin' }, { image });
    buffers.take(fresh.data.length).release?.();
    const reused = jsonWithBase64({ zone: 'Europe/Berlin' }, { image }, buffers);
    assert.ok(reused.release);
    assert.deepEqual(reused.data, fresh.data);
  });
});

describe('transport and body buffers', function () {
  this.timeout(30_000);
  let server: http.Server;
  let url: string;
  let transport: Transport;

  before(async () => {
    // Answers with the SHA-256 of the body it received; `/cut` closes the connection mid-body.
    server = http.createServer((req, res) => {
      if (req.url === '/cut') {
        req.once('data', () => req.socket.destroy());
        return;
      }
      const hash = createHash('sha256');
      req.on('data', (chunk: Buffer) => hash.update(chunk));
      req.on('end', () => res.end(hash.digest('hex')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    transport = new Transport({ maxSockets: 16 });
  });

  after(async () => {
    transport.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const send = (path: string, body: BuiltBody) =>
    transport.send({
      operation: 'faceDetect',
      method: 'POST',
      url: `${url}${path}`,
      body,
      signal: new AbortController().signal,
    });

  it('sends every body intact while their memory is reused, 32 at a time', async () => {
    const buffers = new BodyBuffers();
    const memory = new Set<ArrayBufferLike>();
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < 320) {
        sent++;
        // Sizes around 200 KB images: several share a class, and differ in length within it.
        const image = randomBytes(190 * KB + Math.floor(Math.random() * 20 * KB));
        const body = jsonWithBase64({ n: sent }, { image }, buffers);
        memory.add(body.data.buffer);
        const expected = sha256(Buffer.from(body.data));
        const response = await send('/hash', body);
        assert.equal(response.status, 200);
        assert.equal(response.data.toString(), expected);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    // The test is only worth something if memory was in fact reused.
    assert.ok(memory.size < 160, `${memory.size} buffers for 320 bodies`);
  });

  it('does not give back a body whose request failed mid-write', async () => {
    let released = 0;
    const body: BuiltBody = {
      data: Buffer.alloc(16 * KB * KB, 0x41),
      contentType: 'application/octet-stream',
      release: () => released++,
    };
    await assert.rejects(
      send('/cut', body),
      (err: unknown) => err instanceof ApiError && err.code === 'NETWORK',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(released, 0);

    const whole: BuiltBody = { ...body, data: Buffer.alloc(KB, 0x42) };
    await send('/hash', whole);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(released, 1);
  });
});
