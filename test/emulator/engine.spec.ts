import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import {
  type BoundingBox,
  type EngineFace,
  euclideanDistance,
  ImageDecodeError,
  matchConfidence,
} from '../../emulator/engine/engine';
import {
  createFaceApiEngine,
  DETECT_DECODE,
  type FaceApiEngine,
  faceQuality,
  WORKER_PRELOAD,
} from '../../emulator/engine/faceapi';
import type { FaceJob } from '../../emulator/engine/faceapi-worker';
import { decodeImage, toSourceBox } from '../../emulator/engine/image';
import { WorkerCrashError, WorkerPool } from '../../emulator/engine/worker-pool';
import type { StockFace } from './stock-faceapi-worker';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

async function fixture(name: string): Promise<Buffer> {
  return readFile(path.join(FIXTURES, name));
}

/**
 * Bytes after a JPEG's end-of-image marker are ignored by decoders: the same pixels under a new
 * SHA-256, so a test gets a real inference instead of another test's cached result.
 */
function uncached(image: Buffer, tag: string): Buffer {
  return Buffer.concat([image, Buffer.from(`\n${tag}`)]);
}

async function orientedSize(image: Buffer): Promise<{ width: number; height: number }> {
  return (await sharp(image).metadata()).autoOrient;
}

function assertInside(box: BoundingBox, size: { width: number; height: number }): void {
  assert.ok(box.width > 0 && box.height > 0, `empty box ${JSON.stringify(box)}`);
  assert.ok(box.x >= 0 && box.y >= 0, `box ${JSON.stringify(box)} starts outside`);
  assert.ok(box.x + box.width <= size.width, `box ${JSON.stringify(box)} past width ${size.width}`);
  assert.ok(box.y + box.height <= size.height, `box ${JSON.stringify(box)} past height ${size.height}`);
}

function assertFace(face: EngineFace): void {
  assert.equal(face.descriptor.length, 128);
  assert.ok(face.confidence >= 0.5 && face.confidence <= 1, `confidence ${face.confidence}`);
  assert.ok(face.quality >= 0 && face.quality <= 1, `quality ${face.quality}`);
}

/** Random RGB pixels from a fixed seed (xorshift32), so a failure can be replayed. */
async function noiseJpeg(width: number, height: number, seed: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let state = seed;
  for (let i = 0; i < pixels.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    pixels[i] = state & 0xff;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg()
    .toBuffer();
}

describe('face-api engine', function () {
  let engine: FaceApiEngine;
  const images: Record<string, Buffer> = {};
  const faces: Record<string, EngineFace[]> = {};

  before(async function () {
    this.timeout(60_000);
    for (const name of ['obama.jpg', 'obama2.jpg', 'biden.jpg', 'two_people.jpg']) {
      images[name] = await fixture(name);
    }
    engine = await createFaceApiEngine({ workers: 2 });
    for (const name of Object.keys(images)) {
      faces[name] = await engine.detect(images[name]);
    }
  });

  after(async function () {
    await engine?.close();
  });

  it('uses the default threshold and reports its pool', function () {
    assert.equal(engine.matchThreshold, 0.6);
    assert.match(engine.name, /face-api/);
    assert.equal(engine.stats.workers, 2);
  });

  it('finds exactly one face in each portrait', async function () {
    for (const name of ['obama.jpg', 'obama2.jpg', 'biden.jpg']) {
      assert.equal(faces[name].length, 1, `${name}: ${faces[name].length} faces`);
      assertFace(faces[name][0]);
      assertInside(faces[name][0].box, await orientedSize(images[name]));
    }
  });

  it('finds both faces in two_people.jpg, largest first, Biden on the right', async function () {
    const found = faces['two_people.jpg'];
    assert.equal(found.length, 2);
    const size = await orientedSize(images['two_people.jpg']);
    for (const face of found) {
      assertFace(face);
      assertInside(face.box, size);
    }
    const area = (face: EngineFace): number => face.box.width * face.box.height;
    assert.ok(area(found[0]) >= area(found[1]));
    const right = found[0].box.x > found[1].box.x ? found[0] : found[1];
    const biden = faces['biden.jpg'][0].descriptor;
    assert.ok(euclideanDistance(right.descriptor, biden) < 0.6);
  });

  it("computes what face-api's own pipeline computes, to float rounding", async function () {
    this.timeout(60_000);
    // The engine's settings for a whole image: the tiny detector at 320, detections from 0.5.
    const stock = await WorkerPool.start<FaceJob & { inputSize: number }, StockFace[]>({
      filename: path.join(__dirname, 'stock-faceapi-worker.ts'),
      size: 1,
      preload: WORKER_PRELOAD,
    });
    try {
      for (const [name, image] of Object.entries(images)) {
        const decoded = await decodeImage(image, DETECT_DECODE);
        const { pixels, width, height } = decoded;
        const expected = await stock.run({ pixels, width, height, minConfidence: 0.5, inputSize: 320 });
        assert.equal(faces[name].length, expected.length, name);
        for (const face of expected) {
          const box = toSourceBox(face.box, decoded);
          const same = faces[name].find((found) => JSON.stringify(found.box) === JSON.stringify(box));
          assert.ok(same, `${name}: no face at ${JSON.stringify(box)}`);
          assert.ok(
            Math.abs(same.confidence - face.score) < 1e-4,
            `${name}: score ${same.confidence}, ${face.score}`,
          );
          const difference = Math.max(
            ...face.descriptor.map((value, i) => Math.abs(value - same.descriptor[i])),
          );
          assert.ok(difference < 1e-4, `${name}: descriptors differ by up to ${difference}`);
        }
      }
    } finally {
      await stock.close();
    }
  });

  it('matches the same person and separates different people at the 0.6 threshold', function () {
    const obama = faces['obama.jpg'][0].descriptor;
    const same = euclideanDistance(obama, faces['obama2.jpg'][0].descriptor);
    const other = euclideanDistance(obama, faces['biden.jpg'][0].descriptor);
    assert.ok(same < 0.6, `obama/obama2 distance ${same}`);
    assert.ok(other > 0.6, `obama/biden distance ${other}`);
    assert.ok(matchConfidence(same, engine.matchThreshold) > 0.5);
    assert.ok(matchConfidence(other, engine.matchThreshold) < 0.5);
  });

  it('rates a large frontal face higher than a small or turned one', function () {
    assert.ok(faces['obama.jpg'][0].quality > 0.8, `obama.jpg quality ${faces['obama.jpg'][0].quality}`);
    const good = { box: { x: 0, y: 0, width: 150, height: 180 }, score: 0.99, yaw: 0, roll: 0 };
    assert.ok(faceQuality(good) > 0.98);
    assert.ok(faceQuality({ ...good, box: { ...good.box, width: 40, height: 48 } }) < 0.5);
    assert.ok(faceQuality({ ...good, yaw: 0.6 }) < 0.5);
    assert.ok(faceQuality({ ...good, roll: 40 }) < 0.2);
    assert.equal(faceQuality({ ...good, yaw: -1 }), 0);
  });

  it('describes a face crop so that it matches the same person', async function () {
    const { box } = faces['obama2.jpg'][0];
    const size = await orientedSize(images['obama2.jpg']);
    const left = Math.max(0, Math.round(box.x - 0.15 * box.width));
    const top = Math.max(0, Math.round(box.y - 0.15 * box.height));
    const crop = await sharp(images['obama2.jpg'], { autoOrient: true })
      .extract({
        left,
        top,
        width: Math.min(size.width - left, Math.round(box.width * 1.3)),
        height: Math.min(size.height - top, Math.round(box.height * 1.3)),
      })
      .resize(160)
      .jpeg()
      .toBuffer();
    const face = await engine.describeCropped(crop);
    assert.ok(face !== null, 'no face in the crop');
    assertInside(face.box, await orientedSize(crop));
    const distance = euclideanDistance(face.descriptor, faces['obama.jpg'][0].descriptor);
    assert.ok(distance < 0.6, `crop/obama distance ${distance}`);
  });

  it('finds no face in noise', async function () {
    assert.deepEqual(await engine.detect(await noiseJpeg(320, 240, 1)), []);
    // Small and square, like a real face crop, so no size rule can tell it apart.
    assert.equal(await engine.describeCropped(await noiseJpeg(150, 150, 2)), null);
  });

  it('rejects what is not a complete JPEG or PNG with ImageDecodeError, at no inference', async function () {
    const obama = images['obama.jpg'];
    const bad: Record<string, Buffer> = {
      'truncated JPEG': obama.subarray(0, obama.length >> 1),
      'JPEG header only': obama.subarray(0, 200),
      'JPEG signature then garbage': Buffer.concat([obama.subarray(0, 3), Buffer.alloc(5000, 0x42)]),
      'PNG signature then garbage': Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        Buffer.alloc(100, 1),
      ]),
      text: Buffer.from('this is not an image\n'),
      GIF: Buffer.from('GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01', 'latin1'),
      PDF: Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n'),
      WebP: await sharp(obama).resize(64).webp().toBuffer(),
      empty: Buffer.alloc(0),
    };
    const inferences = engine.stats.inferences;
    for (const [label, bytes] of Object.entries(bad)) {
      await assert.rejects(engine.detect(bytes), ImageDecodeError, `detect: ${label}`);
      await assert.rejects(engine.describeCropped(bytes), ImageDecodeError, `describeCropped: ${label}`);
    }
    assert.equal(engine.stats.inferences, inferences);
  });

  it('still works after bad input, and accepts PNG', async function () {
    const png = await sharp(images['obama2.jpg']).png().toBuffer();
    const found = await engine.detect(png);
    assert.equal(found.length, 1);
    assert.ok(euclideanDistance(found[0].descriptor, faces['obama2.jpg'][0].descriptor) < 0.1);
  });

  it('honours EXIF orientation', async function () {
    // Pixels stored a quarter-turn anticlockwise, tagged "rotate 90 clockwise to display".
    const rotated = await sharp(images['obama.jpg'])
      .rotate(270)
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 95 })
      .toBuffer();
    assert.equal((await sharp(rotated).metadata()).orientation, 6);
    const found = await engine.detect(rotated);
    assert.equal(found.length, 1);
    const [face] = found;
    const [upright] = faces['obama.jpg'];
    assert.ok(euclideanDistance(face.descriptor, upright.descriptor) < 0.15);
    // Boxes are in the displayed frame: the same place as in the upright original, give or take.
    for (const key of ['x', 'y', 'width', 'height'] as const) {
      assert.ok(
        Math.abs(face.box[key] - upright.box[key]) <= 12,
        `${key}: ${face.box[key]} vs ${upright.box[key]}`,
      );
    }
  });

  it('serves a repeated image from the cache: one inference', async function () {
    const image = uncached(images['biden.jpg'], 'cache');
    const before = engine.stats;
    const first = await engine.detect(image);
    const second = await engine.detect(image);
    // Identical calls in flight at once join the same inference too.
    const [third, fourth] = await Promise.all([engine.describeCropped(image), engine.describeCropped(image)]);
    assert.equal(engine.stats.inferences - before.inferences, 2, 'one detect and one describeCropped');
    assert.equal(engine.stats.cacheHits - before.cacheHits, 2);
    assert.deepEqual(second, first);
    assert.deepEqual(fourth, third);
    // Each caller owns its copy: mutating it leaves the cache intact.
    second[0].descriptor.fill(0);
    assert.deepEqual((await engine.detect(image))[0].descriptor, first[0].descriptor);
  });

  it('keeps the event loop responsive while faces are computed', async function () {
    // Measured against the detection's own duration, whatever the machine's speed: the longest
    // stretch in which a 1 ms timer could not run, and how busy this thread was (its event loop
    // utilization). Were faces computed on this thread, the loop would be blocked, and busy, for
    // about the whole detection.
    let longestStall = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longestStall = Math.max(longestStall, now - last);
      last = now;
    }, 1);
    const started = last;
    const utilization = performance.eventLoopUtilization();
    try {
      await engine.detect(uncached(images['obama.jpg'], 'event-loop'));
    } finally {
      clearInterval(timer);
    }
    const busy = performance.eventLoopUtilization(utilization).utilization;
    const ended = performance.now();
    longestStall = Math.max(longestStall, ended - last);
    const elapsed = ended - started;
    const measured = `longest stall ${longestStall.toFixed(1)} ms, busy ${(busy * 100).toFixed(0)}%, in a ${elapsed.toFixed(1)} ms detection`;
    assert.ok(longestStall < elapsed / 2, measured);
    assert.ok(busy < 0.5, measured);
  });

  it('runs two images at once on two workers', async function () {
    let peak = 0;
    let settled = 0;
    const jobs = [uncached(images['obama2.jpg'], 'pool'), uncached(images['biden.jpg'], 'pool')].map(
      (image) => engine.detect(image).finally(() => settled++),
    );
    while (settled < jobs.length) {
      peak = Math.max(peak, engine.stats.inFlight);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(jobs);
    assert.equal(peak, 2, 'both images were in a worker at the same moment');
    assert.ok(engine.stats.peakInFlight >= 2);
  });

  it('evicts the least recently used image, and rejects calls after close', async function () {
    this.timeout(60_000);
    const other = await createFaceApiEngine({ workers: 1, cacheSize: 1, matchThreshold: 0.5 });
    try {
      assert.equal(other.matchThreshold, 0.5);
      assert.equal(other.stats.workers, 1);
      // cacheSize 1: A, B, A evicts A before its second call.
      const a = uncached(images['obama2.jpg'], 'lru-a');
      const b = uncached(images['obama2.jpg'], 'lru-b');
      await other.detect(a);
      await other.detect(b);
      await other.detect(b);
      await other.detect(a);
      assert.deepEqual([other.stats.inferences, other.stats.cacheHits], [3, 1]);
    } finally {
      await other.close();
    }
    await assert.rejects(other.detect(images['obama.jpg']), /closed/);
  });

  it('refuses invalid options', async function () {
    await assert.rejects(createFaceApiEngine({ workers: 0 }), RangeError);
    await assert.rejects(createFaceApiEngine({ matchThreshold: -1 }), RangeError);
    await assert.rejects(createFaceApiEngine({ cacheSize: 1.5 }), RangeError);
  });
});

describe('worker pool', function () {
  let dir: string;
  let pool: WorkerPool<string, string>;

  before(async function () {
    this.timeout(30_000);
    dir = await mkdtemp(path.join(os.tmpdir(), 'worker-pool-'));
    const workerFile = path.join(dir, 'echo-worker.ts');
    const poolModule = path.resolve(__dirname, '../../emulator/engine/worker-pool');
    await writeFile(
      workerFile,
      `import { serveWorker } from ${JSON.stringify(poolModule)};
serveWorker<string, string>(async () => async (request) => {
  if (request === 'exit') process.exit(3);
  if (request === 'hang') for (;;);
  if (request === 'throw') throw new Error('boom');
  return request.toUpperCase();
});
`,
    );
    pool = await WorkerPool.start<string, string>({ filename: workerFile, size: 2, jobTimeoutMs: 1_000 });
  });

  after(async function () {
    await pool?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails to start when a worker fails to load', async function () {
    const broken = path.join(dir, 'broken-worker.ts');
    await writeFile(broken, "throw new Error('cannot load');\n");
    await assert.rejects(WorkerPool.start({ filename: broken, size: 2 }), /failed to start: cannot load/);
  });

  it('answers jobs', async function () {
    assert.deepEqual(await Promise.all(['a', 'b', 'c'].map((request) => pool.run(request))), ['A', 'B', 'C']);
  });

  it("passes a job's exception back and keeps the worker", async function () {
    await assert.rejects(pool.run('throw'), /boom/);
    assert.equal(pool.stats.restarts, 0);
  });

  it('rejects the job of a worker that dies, and replaces the worker', async function () {
    await assert.rejects(pool.run('exit'), WorkerCrashError);
    assert.equal(await pool.run('still here'), 'STILL HERE');
    assert.equal(pool.stats.restarts, 1);
  });

  it('replaces a worker stuck on a job', async function () {
    await assert.rejects(pool.run('hang'), WorkerCrashError);
    assert.deepEqual(await Promise.all([pool.run('x'), pool.run('y')]), ['X', 'Y']);
    assert.equal(pool.stats.restarts, 2);
    assert.equal(pool.stats.workers, 2);
  });
});
