/**
 * The emulator's real face engine: @vladmandic/face-api on tfjs-wasm, run in a pool of worker
 * threads so that the HTTP server's event loop never waits on a forward pass.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { DEFAULT_MATCH_THRESHOLD, type EngineFace, type FaceEngine } from './engine';
import type { FaceJob, FaceJobResult, StageTimes, WorkerFace } from './faceapi-worker';
import { type DecodedImage, type DecodeOptions, decodeImage, toSourceBox } from './image';
import { WorkerPool } from './worker-pool';

export interface FaceApiEngineOptions {
  /** Inference worker threads; default: one per core. */
  workers?: number;
  /** L2 descriptor distance at or under which two faces are the same person; default 0.6. */
  matchThreshold?: number;
  /** Images whose results are kept, keyed by SHA-256 of their bytes; 0 turns the cache off. */
  cacheSize?: number;
}

export interface FaceApiEngineStats {
  /** Inference jobs handed to a worker (one per image not served from the cache). */
  inferences: number;
  /** Calls answered from the cache, or by joining an identical call still running. */
  cacheHits: number;
  /** Inference jobs running in a worker right now. */
  inFlight: number;
  /** Highest `inFlight` since the engine started: proves the pool computes in parallel. */
  peakInFlight: number;
  workers: number;
  /** Workers replaced after a crash or a stuck job. */
  workerRestarts: number;
  /** Inferences in which the tiny detector found no face, so that SSD ran as well. */
  ssdFallbacks: number;
  /**
   * Milliseconds spent in each stage, summed over every inference: where the time goes. decode is
   * wall time on the caller's side (sharp, on libuv's threads); the others are worker-thread time.
   */
  stageMs: StageTimes & { decode: number };
}

export interface FaceApiEngine extends FaceEngine {
  readonly stats: FaceApiEngineStats;
}

export const DEFAULT_CACHE_SIZE = 256;

/**
 * The detector sees every image at 320x320 (SSD, when it runs, at 512x512), but landmarks and
 * descriptors are cut from the analysed image itself: at 640 px a portrait's face is well over the
 * recognition net's 150 px, and more pixels only cost decode time and memory.
 */
export const DETECT_DECODE: DecodeOptions = { maxSide: 640, padFraction: 0 };
/**
 * A tight crop puts the face against the image edges, where SSD's anchors fit it badly: a 25 %
 * edge-replicated margin on each side gives it context back, and keeps the padded image within 640.
 */
const CROPPED_DECODE: DecodeOptions = { maxSide: 426, padFraction: 0.25 };
const DETECT_MIN_CONFIDENCE = 0.5;
/**
 * For a crop the caller vouches that there is a face, so a weaker detection is trusted. Measured
 * with the fixtures: random-noise images of 112-640 px never pass 0.03 with the tiny detector, 0.09
 * with SSD; padded face crops score 0.15-1.0 with the tiny detector, and the ones it misses (112 px
 * crops cut inside the jaw line) go to SSD, which scores every one of them 0.31-1.0.
 */
const CROPPED_MIN_CONFIDENCE = 0.2;
const JOB_TIMEOUT_MS = 30_000;
/** The big bundles a face worker loads before tsx (see WorkerPoolOptions.preload). */
export const WORKER_PRELOAD = [
  require.resolve('@tensorflow/tfjs'),
  require.resolve('@vladmandic/face-api/dist/face-api.node-wasm.js'),
];

/** Face side, in analysed pixels, from which face-api's 150 px recognition input loses no detail. */
const GOOD_FACE_SIDE = 100;

function linearScore(value: number, full: number, zero: number): number {
  return Math.min(1, Math.max(0, (zero - value) / (zero - full)));
}

/**
 * quality = size x pose x detection score, each 0..1, so any one bad factor sinks it.
 * - size: the shorter side of the face box in analysed pixels over 100, capped at 1.
 * - pose: full marks up to |yaw| 0.2 (about 15 degrees of turn), none from 0.8 (near profile);
 *   full marks up to 10 degrees of roll, none from 45.
 * - detection score: SSD's confidence falls with blur, occlusion and poor light, so it stands in
 *   for sharpness, which face-api does not measure.
 */
export function faceQuality(face: Pick<WorkerFace, 'box' | 'score' | 'yaw' | 'roll'>): number {
  const size = Math.min(1, Math.min(face.box.width, face.box.height) / GOOD_FACE_SIDE);
  const pose = linearScore(Math.abs(face.yaw), 0.2, 0.8) * linearScore(Math.abs(face.roll), 10, 45);
  return size * pose * Math.max(0, Math.min(1, face.score));
}

/** Least-recently-used map: Map keeps insertion order, so re-inserting on read moves a key last. */
class LruCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    if (this.capacity === 0) {
      return;
    }
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
  }

  delete(key: string, value: V): void {
    if (this.entries.get(key) === value) {
      this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Callers get their own descriptors, so mutating one cannot corrupt the cached copy. */
function copyFace(face: EngineFace): EngineFace {
  return { ...face, box: { ...face.box }, descriptor: new Float32Array(face.descriptor) };
}

function area(face: EngineFace): number {
  return face.box.width * face.box.height;
}

function checkOption(name: string, value: number, valid: boolean): void {
  if (!valid) {
    throw new RangeError(`invalid ${name}: ${value}`);
  }
}

export async function createFaceApiEngine(options: FaceApiEngineOptions = {}): Promise<FaceApiEngine> {
  const workers = options.workers ?? os.availableParallelism?.() ?? os.cpus().length;
  checkOption('workers', workers, Number.isInteger(workers) && workers >= 1);
  const matchThreshold = options.matchThreshold ?? DEFAULT_MATCH_THRESHOLD;
  checkOption('matchThreshold', matchThreshold, Number.isFinite(matchThreshold) && matchThreshold > 0);
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  checkOption('cacheSize', cacheSize, Number.isInteger(cacheSize) && cacheSize >= 0);

  // One libvips thread per decode: the workers already take every core, and sharp's default (a
  // thread per core for each image) oversubscribes them, so a second worker added less.
  sharp.concurrency(1);
  const pool = await WorkerPool.start<FaceJob, FaceJobResult>({
    filename: path.join(__dirname, 'faceapi-worker.ts'),
    size: workers,
    preload: WORKER_PRELOAD,
    jobTimeoutMs: JOB_TIMEOUT_MS,
  });
  const detectCache = new LruCache<Promise<EngineFace[]>>(cacheSize);
  const croppedCache = new LruCache<Promise<EngineFace | null>>(cacheSize);
  let cacheHits = 0;
  let ssdFallbacks = 0;
  const stageMs = { decode: 0, tensor: 0, detect: 0, landmarks: 0, descriptor: 0 };
  let closed = false;

  async function analyse(image: Buffer, decode: DecodeOptions, minConfidence: number): Promise<EngineFace[]> {
    const started = performance.now();
    const decoded: DecodedImage = await decodeImage(image, decode);
    stageMs.decode += performance.now() - started;
    const { pixels, width, height } = decoded;
    const { faces, fallback, stages } = await pool.run({ pixels, width, height, minConfidence }, [
      pixels.buffer as ArrayBuffer,
    ]);
    if (fallback) {
      ssdFallbacks++;
    }
    for (const stage of ['tensor', 'detect', 'landmarks', 'descriptor'] as const) {
      stageMs[stage] += stages[stage];
    }
    return faces
      .map((face) => ({
        box: toSourceBox(face.box, decoded),
        confidence: face.score,
        quality: faceQuality(face),
        descriptor: face.descriptor,
      }))
      .sort((a, b) => area(b) - area(a));
  }

  /**
   * Joins an identical call still running as well as finished ones; a failed call is forgotten so
   * that a retry runs again.
   */
  function cached<T>(cache: LruCache<Promise<T>>, image: Buffer, compute: () => Promise<T>): Promise<T> {
    if (closed) {
      return Promise.reject(new Error('face engine is closed'));
    }
    const key = createHash('sha256').update(image).digest('hex');
    const hit = cache.get(key);
    if (hit !== undefined) {
      cacheHits++;
      return hit;
    }
    const result = compute();
    cache.set(key, result);
    result.catch(() => cache.delete(key, result));
    return result;
  }

  return {
    name: 'face-api 1.7 (Tiny Face Detector, SSD MobileNet v1 fallback, tiny 68 landmarks, 128-d ResNet; tfjs-wasm)',
    matchThreshold,

    get stats(): FaceApiEngineStats {
      const { dispatched, busy, peakBusy, workers: live, restarts } = pool.stats;
      return {
        inferences: dispatched,
        cacheHits,
        inFlight: busy,
        peakInFlight: peakBusy,
        workers: live,
        workerRestarts: restarts,
        ssdFallbacks,
        stageMs: { ...stageMs },
      };
    },

    async detect(image: Buffer): Promise<EngineFace[]> {
      const faces = await cached(detectCache, image, () =>
        analyse(image, DETECT_DECODE, DETECT_MIN_CONFIDENCE),
      );
      return faces.map(copyFace);
    },

    /**
     * No whole-image fallback when even the relaxed, padded detection finds nothing. Measured on
     * crops of obama2.jpg: describing the whole crop instead of the face found in it put it 0.53 to
     * 0.77 from obama.jpg (0.77 for the tightest crop, the one the detector nearly missed), against
     * 0.47 through the detector. Such a fallback would rarely match a real face, and would give
     * every non-face a descriptor to match.
     */
    async describeCropped(image: Buffer): Promise<EngineFace | null> {
      const face = await cached(croppedCache, image, async () => {
        const faces = await analyse(image, CROPPED_DECODE, CROPPED_MIN_CONFIDENCE);
        return faces[0] ?? null;
      });
      return face === null ? null : copyFace(face);
    },

    async close(): Promise<void> {
      closed = true;
      detectCache.clear();
      croppedCache.clear();
      await pool.close();
    },
  };
}
