/**
 * Face engine benchmark: cold start, warm latency, CPU per image, and throughput with one worker
 * and with the pool. Run with `npx tsx bench/engine.ts` (add `--quick` for a CI-sized run, `--out
 * FILE` to write elsewhere than bench/results/engine.json).
 *
 * The images are the fixture photos as a camera would send them: EXIF rotation applied, scaled to
 * 640 px on the longer side, JPEG quality 90 (the issue's "640-px image"). CPU per image is also
 * measured with the photos as they are (0.7-2.1 megapixels), where decoding costs more.
 *
 * The cache is turned off (cacheSize 0) so every call is a real inference. CPU figures are
 * process.cpuUsage() deltas: the whole process, every thread (main thread, sharp's decode threads
 * and the inference workers), over a sequential run on one worker, divided by the images run.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { createFaceApiEngine, DETECT_DECODE, type FaceApiEngine } from '../emulator/engine/faceapi';
import { decodeImage } from '../emulator/engine/image';
import { percentile } from './measure';
import { FIXTURES as FIXTURE_DIR } from '../scripts/runtime';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } },
});
const quick = args.quick;
const OUT = args.out ? path.resolve(args.out) : path.join(__dirname, 'results', 'engine.json');
const FIXTURES = ['obama.jpg', 'obama2.jpg', 'biden.jpg', 'two_people.jpg'];
const LATENCY_RUNS = quick ? 8 : 24;
/**
 * Images per throughput round. A round ends when its last image does, with the other workers idle
 * for up to an image's time: 48 keeps that tail under 5 % of a pool round on two cores (16 lost
 * up to 10 %, and made the pool look worse than it is).
 */
const THROUGHPUT_IMAGES = quick ? 8 : 48;
/** This machine's speed drifts by 10-15 % from minute to minute: the median of rounds steadies it. */
const THROUGHPUT_ROUNDS = quick ? 1 : 5;
const cores = os.availableParallelism?.() ?? os.cpus().length;

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

/** CPU ms spent by every process on the machine, from the kernel's per-core counters. */
function machineBusyMs(): number {
  return os.cpus().reduce((sum, { times }) => sum + times.user + times.nice + times.sys + times.irq, 0);
}

interface Phase<T> {
  value: T;
  wallMs: number;
  /** Cores this process kept busy on average. */
  ownCores: number;
  /**
   * Cores other processes kept busy meanwhile: anything well above 0 means the figures are low
   * because the machine was shared, not because of the engine.
   */
  otherCores: number;
}

async function measure<T>(run: () => Promise<T>): Promise<Phase<T>> {
  const cpu = process.cpuUsage();
  const busy = machineBusyMs();
  const started = performance.now();
  const value = await run();
  const wallMs = performance.now() - started;
  const own = cpuMs(cpu);
  return {
    value,
    wallMs,
    ownCores: own / wallMs,
    otherCores: Math.max(0, machineBusyMs() - busy - own) / wallMs,
  };
}

/** A camera frame of the photo: upright, 640 px on the longer side, JPEG quality 90. */
function cameraFrame(photo: Buffer): Promise<Buffer> {
  const side = DETECT_DECODE.maxSide;
  return sharp(photo)
    .rotate()
    .resize({ width: side, height: side, fit: 'inside' })
    .jpeg({ quality: 90 })
    .toBuffer();
}

interface Sequential {
  phase: Phase<void>;
  /** Sorted. */
  latencies: number[];
  cpuMsPerImage: number;
  /** Mean ms per image of each stage (engine.stats.stageMs). */
  stages: Record<string, number>;
  /** CPU ms per image of decoding alone, measured after the run. */
  decodeCpuMs: number;
}

/** `runs` images one at a time on `engine`, then the same images decoded alone. */
async function sequential(engine: FaceApiEngine, images: Buffer[], runs: number): Promise<Sequential> {
  const latencies: number[] = [];
  const before = engine.stats.stageMs;
  const phase = await measure(async () => {
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await engine.detect(images[i % images.length]);
      latencies.push(performance.now() - started);
    }
  });
  const after = engine.stats.stageMs;
  const stageNames = Object.keys(after) as (keyof typeof after)[];
  const decodeStart = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    await decodeImage(images[i % images.length], DETECT_DECODE);
  }
  return {
    phase,
    latencies: latencies.sort((a, b) => a - b),
    cpuMsPerImage: (phase.ownCores * phase.wallMs) / runs,
    stages: Object.fromEntries(
      stageNames.map((stage) => [stage, round((after[stage] - before[stage]) / runs)]),
    ),
    decodeCpuMs: cpuMs(decodeStart) / runs,
  };
}

/**
 * A worker's first dozen images run 10-40 % slower than the rest while V8 tiers its wasm and JS
 * up (measured image by image: 140, 100, 99, 130 ms for the first four, 67-90 ms from the
 * twelfth): each worker gets that many before any figure is taken, the pool as much as one worker.
 */
const WARM_IMAGES_PER_WORKER = 12;

/** Warms every worker of `engine`; returns how long its first `workers` images took. */
async function warm(engine: FaceApiEngine, images: Buffer[], workers: number): Promise<number> {
  const started = performance.now();
  await Promise.all(images.slice(0, workers).map((image) => engine.detect(image)));
  const first = performance.now() - started;
  await Promise.all(
    Array.from({ length: WARM_IMAGES_PER_WORKER * workers }, (_, i) =>
      engine.detect(images[i % images.length]),
    ),
  );
  return first;
}

/**
 * Images per second of each engine, with a batch submitted at once so that every worker always has
 * a job waiting. The engines take turns round by round (1 worker, pool, 1 worker, pool, ...), so
 * that the machine's drift falls on both alike; for each, the round with the median rate.
 */
async function throughput(engines: FaceApiEngine[], images: Buffer[]): Promise<Phase<number>[]> {
  const batch = Array.from({ length: THROUGHPUT_IMAGES }, (_, i) => images[i % images.length]);
  const rounds: Phase<number>[][] = engines.map(() => []);
  for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
    for (const [i, engine] of engines.entries()) {
      const phase = await measure(() => Promise.all(batch.map((image) => engine.detect(image))));
      rounds[i].push({ ...phase, value: batch.length / (phase.wallMs / 1000) });
    }
  }
  return rounds.map((phases) => {
    phases.sort((a, b) => a.value - b.value);
    return phases[Math.floor(phases.length / 2)];
  });
}

function cpuNote(phase: Phase<unknown>): string {
  return `this process ${phase.ownCores.toFixed(2)} cores, other processes ${phase.otherCores.toFixed(2)} cores`;
}

function summary(phase: Phase<unknown>): { wallMs: number; ownCores: number; otherCores: number } {
  return {
    wallMs: round(phase.wallMs, 0),
    ownCores: round(phase.ownCores, 2),
    otherCores: round(phase.otherCores, 2),
  };
}

/**
 * Busy-loop rounds that `threads` plain worker threads complete in a fixed time, summed. The ratio
 * for all cores over one is what this machine gives any parallel work: on a VM whose vCPUs share
 * physical cores it is well under the core count, and the pool cannot beat it.
 */
async function spinRounds(threads: number): Promise<number> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const end = Date.now() + 2000;
    let rounds = 0;
    let x = 0;
    while (Date.now() < end) {
      for (let i = 0; i < 100000; i++) x = (x + i * 7) % 1000003;
      rounds++;
    }
    parentPort.postMessage(rounds + (x < 0 ? 1 : 0));
  `;
  const counts = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(code, { eval: true });
          worker.once('message', (rounds: number) => {
            resolve(rounds);
            void worker.terminate();
          });
          worker.once('error', reject);
        }),
    ),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

async function main(): Promise<void> {
  const photos = await Promise.all(FIXTURES.map((name) => readFile(path.join(FIXTURE_DIR, name))));
  const images = await Promise.all(photos.map(cameraFrame));
  console.log(`cores: ${cores} (${os.cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`);
  console.log(
    `mode: ${quick ? 'quick' : 'full'}; images: ${FIXTURES.join(', ')} as ${DETECT_DECODE.maxSide}-px JPEG frames (${images.map((image) => `${Math.round(image.length / 1024)} KB`).join(', ')}); cache off`,
  );

  // One worker: cold start, then latency and CPU one image at a time.
  const singleStart = await measure(() => createFaceApiEngine({ workers: 1, cacheSize: 0 }));
  const single = singleStart.value;
  const firstMs = await warm(single, images, 1);
  console.log(
    `cold start, 1 worker: ${singleStart.wallMs.toFixed(0)} ms; first image after ready: ${firstMs.toFixed(0)} ms`,
  );

  const run = await sequential(single, images, LATENCY_RUNS);
  const median = percentile(run.latencies, 50);
  const p95 = percentile(run.latencies, 95);
  console.log(
    `warm latency, 1 worker, ${LATENCY_RUNS} images one at a time: median ${median.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms (${cpuNote(run.phase)})`,
  );
  console.log(
    `CPU per ${DETECT_DECODE.maxSide}-px image, whole process (all threads): ${run.cpuMsPerImage.toFixed(0)} ms, of which decode+resize on the main side ${run.decodeCpuMs.toFixed(0)} ms`,
  );
  console.log(
    `stages per image, ms (decode: wall on the main side; the rest: worker thread): ${Object.entries(
      run.stages,
    )
      .map(([stage, ms]) => `${stage} ${ms}`)
      .join(', ')}; SSD fallbacks so far: ${single.stats.ssdFallbacks}`,
  );
  const photoRun = await sequential(single, photos, LATENCY_RUNS);
  console.log(
    `CPU per image with the photos as they are (${photos.map((photo) => `${Math.round(photo.length / 1024)} KB`).join(', ')}): ${photoRun.cpuMsPerImage.toFixed(0)} ms, of which decode+resize ${photoRun.decodeCpuMs.toFixed(0)} ms`,
  );

  const ceilingPhase = await measure(async () => (await spinRounds(cores)) / (await spinRounds(1)));
  const ceiling = ceilingPhase.value;
  console.log(
    `machine ceiling: ${cores} busy threads do ${ceiling.toFixed(2)}x the work of one (plain JS loop; ${cpuNote(ceilingPhase)})`,
  );

  // The pool, one worker per core.
  const poolStart = await measure(() => createFaceApiEngine({ workers: cores, cacheSize: 0 }));
  const pool = poolStart.value;
  const poolFirstMs = await warm(pool, images, cores);
  console.log(
    `cold start, ${cores} workers: ${poolStart.wallMs.toFixed(0)} ms (${cpuNote(poolStart)}); first ${cores} images after ready: ${poolFirstMs.toFixed(0)} ms`,
  );
  const [singleRate, poolRate] = await throughput([single, pool], images);
  const peak = pool.stats.peakInFlight;
  await Promise.all([single.close(), pool.close()]);
  const ratio = poolRate.value / singleRate.value;
  console.log(
    `throughput, 1 worker: ${singleRate.value.toFixed(2)} images/s, median of ${THROUGHPUT_ROUNDS} x ${THROUGHPUT_IMAGES} images, rounds taken in turn with the pool's (${cpuNote(singleRate)})`,
  );
  console.log(
    `throughput, ${cores} workers: ${poolRate.value.toFixed(2)} images/s, peak ${peak} in flight (${cpuNote(poolRate)})`,
  );
  console.log(`pool / 1 worker: ${ratio.toFixed(2)}x (machine ceiling ${ceiling.toFixed(2)}x)`);

  const phases = {
    singleStart,
    sequential: run.phase,
    photos: photoRun.phase,
    singleRate,
    ceilingPhase,
    poolStart,
    poolRate,
  };
  const busiest = Object.entries(phases).reduce((a, b) => (b[1].otherCores > a[1].otherCores ? b : a));
  const shared = busiest[1].otherCores > 0.2;
  if (shared) {
    console.log(
      `WARNING: other processes used ${busiest[1].otherCores.toFixed(2)} cores during ${busiest[0]}: the figures understate the engine; rerun on an idle machine`,
    );
  }

  const targets = {
    coldStartUnder3s: poolStart.wallMs < 3000,
    cpuPerImageUnder150ms: run.cpuMsPerImage < 150,
    poolAtLeast1_7x: ratio >= 1.7,
  };
  console.log(`targets: ${JSON.stringify(targets)}`);

  const results = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: {
      cores,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: process.platform,
    },
    notes: [
      'cache off (cacheSize 0): every call is an inference',
      'CPU: process.cpuUsage() delta, whole process (main thread, sharp threads, workers), sequential 1-worker run, per image',
      'otherCores: CPU used by other processes on the machine during the phase; high values mean a shared machine',
      'stageMsPerImage: sequential 1-worker run; decode is wall time on the main side, the other stages worker-thread time',
      `images: the fixtures as ${DETECT_DECODE.maxSide}-px JPEG frames (quality 90); photoCpuMsPerImage: the fixtures as they are`,
    ],
    coldStartMs: { oneWorker: summary(singleStart), pool: summary(poolStart) },
    firstImagesAfterReadyMs: { oneWorker: round(firstMs, 0), pool: round(poolFirstMs, 0) },
    warmLatencyMs: {
      runs: LATENCY_RUNS,
      median: round(median, 0),
      p95: round(p95, 0),
      ...summary(run.phase),
    },
    cpuMsPerImage: { total: round(run.cpuMsPerImage, 0), decode: round(run.decodeCpuMs, 0) },
    stageMsPerImage: run.stages,
    photoCpuMsPerImage: { total: round(photoRun.cpuMsPerImage, 0), decode: round(photoRun.decodeCpuMs, 0) },
    throughput: {
      imagesPerRound: THROUGHPUT_IMAGES,
      rounds: THROUGHPUT_ROUNDS,
      oneWorker: { imagesPerSecond: round(singleRate.value, 2), ...summary(singleRate) },
      pool: { workers: cores, imagesPerSecond: round(poolRate.value, 2), ...summary(poolRate) },
      ratio: round(ratio, 2),
      machineCeiling: round(ceiling, 2),
    },
    machineWasShared: shared,
    targets,
  };
  await mkdir(path.dirname(OUT), { recursive: true });
  await writeFile(OUT, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), OUT)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
