/**
 * Face worker: runs face-api's nets (Tiny Face Detector, with SSD MobileNet v1 as a fallback; tiny
 * 68-point landmarks; 128-d recognition net) on tfjs's wasm backend. The wasm backend computes
 * synchronously on the thread that calls it, so each worker owns one copy of the models and the
 * pool supplies the parallelism.
 *
 * Models and wasm binaries come from the installed packages on disk: nothing is fetched.
 *
 * The three nets that run on every image are face-api's classes with their forward pass rewritten
 * over the same loaded weights, because face-api's graphs spend more time around the convolutions
 * than in them on wasm (measured with tf.profile on a 640 px image):
 * - each activation, bias and scale is a separate op that walks the whole tensor again: fused
 *   convolutions apply them in the same pass (leaky ReLU alone took 67 of the detector's 175 ms);
 * - face-api's `normalize` subtracts the mean RGB through a concat on the channel axis, which the
 *   wasm backend runs as a per-pixel JS loop (55 ms of the detector's 175): a broadcast sub does it;
 * - the recognition net pads channels with zeros through the same slow concat: tf.pad is native.
 * Around the nets, the face tiles are cut from the job's bytes (faceTile) and every pixel tensor is
 * filled from one reused buffer (pixelTensor): together a quarter of the CPU per image, most of it
 * garbage collection. The results are face-api's own pipeline's (TinyFaceDetector at 320, tiny
 * landmarks, dlib alignment, descriptors) to float rounding: test/emulator/engine.spec.ts compares
 * them with it.
 */
import * as tf from '@tensorflow/tfjs';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import type { BoundingBox } from './engine';
import { MODEL_DIR, useWasmBackend } from './tfjs-wasm';
import { serveWorker } from './worker-pool';

export interface FaceJob {
  /** Packed RGB, 3 bytes per pixel. */
  pixels: Uint8Array;
  width: number;
  height: number;
  /** Detection score below which a candidate is dropped. */
  minConfidence: number;
}

export interface WorkerFace {
  /** In the analysed pixels of the job. */
  box: BoundingBox;
  score: number;
  /**
   * Nose tip's position between the two ends of the jaw line, -1..1, 0 when centred: how far the
   * head is turned left or right.
   */
  yaw: number;
  /** Tilt of the line through the eye centres, in degrees. */
  roll: number;
  descriptor: Float32Array;
}

/** Wall time of each stage of one job, in ms: the worker thread computes synchronously, so CPU too. */
export interface StageTimes {
  /** Pixels into a tensor. */
  tensor: number;
  /** Tiny detector, plus SSD when it ran. */
  detect: number;
  landmarks: number;
  descriptor: number;
}

export interface FaceJobResult {
  faces: WorkerFace[];
  /** True when the tiny detector found nothing and SSD had the last word. */
  fallback: boolean;
  stages: StageTimes;
}

/**
 * The tiny detector's input side. Measured on the fixtures at <= 640 px: 320 finds every face
 * (scores 0.70-0.94) at about half the cost of 416 and a fifth of SSD's 512; 224 misses tight
 * crops (scores 0.02-0.2). Faces under about 40 px of a 640 px image fall below its reach: SSD
 * then only sees them when the tiny detector found no face at all.
 */
const TINY_INPUT_SIZE = 320;
/** face-api's recognition and landmark nets are trained on (pixel - mean RGB) / 255. */
const FACE_MEAN_RGB = [122.782, 117.001, 104.298];
/** The tiny detector's leaky ReLU slope (face-api's `leaky`: float32 0.1). */
const LEAKY_ALPHA = 0.10000000149011612;

type FaceApiTensor = faceapi.tf.Tensor;

/**
 * face-api's .d.ts inlines its own trimmed copy of tfjs's Tensor class, which TypeScript treats as
 * a different type; at run time both are @tensorflow/tfjs's Tensor (the bundle requires it), as
 * this checks.
 */
function toTf<T extends tf.Tensor>(tensor: FaceApiTensor): T {
  if (!(tensor instanceof tf.Tensor)) {
    throw new TypeError('face-api tensor is not a @tensorflow/tfjs tensor');
  }
  return tensor as tf.Tensor as T;
}

/** The reverse of toTf, for results handed back to face-api. */
function toFaceApi<T extends FaceApiTensor>(tensor: tf.Tensor): T {
  if (!(tensor instanceof faceapi.tf.Tensor)) {
    throw new TypeError('@tensorflow/tfjs tensor is not a face-api tensor');
  }
  return tensor as FaceApiTensor as T;
}

type Activation = 'linear' | 'relu' | 'leakyrelu';

interface FusedConv {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

interface SeparableConv {
  depthwise: tf.Tensor4D;
  pointwise: FusedConv;
}

function conv(
  x: tf.Tensor4D,
  { filter, bias }: FusedConv,
  strides: 1 | 2,
  pad: 'same' | 'valid',
  activation: Activation,
): tf.Tensor4D {
  return tf.fused.conv2d({ x, filter, bias, strides, pad, activation, leakyreluAlpha: LEAKY_ALPHA });
}

/** tf.separableConv2d, with the pointwise half's bias and activation fused. */
function separable(
  x: tf.Tensor4D,
  params: SeparableConv,
  strides: 1 | 2,
  activation: Activation,
): tf.Tensor4D {
  return conv(
    tf.depthwiseConv2d(x, params.depthwise, strides, 'same'),
    params.pointwise,
    1,
    'valid',
    activation,
  );
}

type SeparableConvParams = faceapi.MobilenetParams['conv1'];
type ConvParams = faceapi.MobilenetParams['conv8'];

function separableParams(params: SeparableConvParams): SeparableConv {
  return {
    depthwise: toTf(params.depthwise_filter),
    pointwise: { filter: toTf(params.pointwise_filter), bias: toTf(params.bias) },
  };
}

function convParams(params: ConvParams): FusedConv {
  return { filter: toTf(params.filters), bias: toTf(params.bias) };
}

/** (pixel - mean) / 255 as one broadcast, where face-api's `normalize` builds a mean image by concat. */
function normalise(batch: FaceApiTensor, meanRgb: number[]): tf.Tensor4D {
  return tf.div<tf.Tensor4D>(tf.sub(tf.cast(toTf<tf.Tensor4D>(batch), 'float32'), tf.tensor1d(meanRgb)), 255);
}

/** Tiny Face Detector: face-api's `runMobilenet` with fused bias + leaky ReLU. */
class FusedTinyFaceDetector extends faceapi.TinyFaceDetector {
  private layers:
    { conv0: FusedConv; pooled: SeparableConv[]; extra: SeparableConv[]; conv8: FusedConv } | undefined;

  /** Call once the weights are loaded. */
  prepare(): void {
    const params = this.params;
    if (params === undefined || !('filters' in params.conv0) || !('depthwise_filter' in params.conv1)) {
      throw new Error('tiny face detector: weights not loaded, or not the separable-conv variant');
    }
    const mobilenet = params as faceapi.MobilenetParams;
    this.layers = {
      conv0: convParams(params.conv0),
      pooled: [mobilenet.conv1, mobilenet.conv2, mobilenet.conv3, mobilenet.conv4, mobilenet.conv5].map(
        separableParams,
      ),
      extra: [mobilenet.conv6, mobilenet.conv7].filter((layer) => layer !== undefined).map(separableParams),
      conv8: convParams(mobilenet.conv8),
    };
  }

  override forwardInput(input: faceapi.NetInput, inputSize: number): faceapi.tf.Tensor4D {
    const layers = this.layers;
    if (layers === undefined) {
      throw new Error('tiny face detector: prepare() not called');
    }
    const meanRgb = this.config.meanRgb;
    const output = tf.tidy(() => {
      const batch = input.toBatchTensor(inputSize, false);
      const x = meanRgb
        ? normalise(batch, meanRgb)
        : tf.div<tf.Tensor4D>(tf.cast(toTf(batch), 'float32'), 255);
      let out = conv(x, layers.conv0, 1, 'valid', 'leakyrelu');
      for (const layer of layers.pooled) {
        out = separable(tf.maxPool(out, [2, 2], [2, 2], 'same'), layer, 1, 'leakyrelu');
      }
      out = tf.maxPool(out, [2, 2], [1, 1], 'same');
      for (const layer of layers.extra) {
        out = separable(out, layer, 1, 'leakyrelu');
      }
      return conv(out, layers.conv8, 1, 'valid', 'linear');
    });
    return toFaceApi(output);
  }
}

type TinyExtractorParams = NonNullable<faceapi.FaceLandmark68TinyNet['faceFeatureExtractor']['params']>;
type DenseBlockParams = TinyExtractorParams['dense0'];

interface DenseBlock {
  /** The first block opens with a plain conv, the others with a separable one. */
  conv0: FusedConv | SeparableConv;
  conv1: SeparableConv;
  conv2: SeparableConv;
}

function denseBlockParams(params: DenseBlockParams): DenseBlock {
  return {
    conv0: 'filters' in params.conv0 ? convParams(params.conv0) : separableParams(params.conv0),
    conv1: separableParams(params.conv1),
    conv2: separableParams(params.conv2),
  };
}

/** face-api's denseBlock3, with biases and the ReLUs that follow a conv directly fused. */
function denseBlock(x: tf.Tensor4D, block: DenseBlock): tf.Tensor4D {
  const out1 =
    'filter' in block.conv0 ? conv(x, block.conv0, 2, 'same', 'relu') : separable(x, block.conv0, 2, 'relu');
  const out2 = separable(out1, block.conv1, 1, 'linear');
  const out3 = separable(tf.relu(tf.add<tf.Tensor4D>(out1, out2)), block.conv2, 1, 'linear');
  return tf.relu(tf.add<tf.Tensor4D>(out1, tf.add(out2, out3)));
}

/** 68-point tiny landmark net: face-api's feature extractor, fused; its own head and decoding. */
class FusedFaceLandmark68TinyNet extends faceapi.FaceLandmark68TinyNet {
  private blocks: DenseBlock[] | undefined;

  prepare(): void {
    const params = this.faceFeatureExtractor.params;
    if (params === undefined) {
      throw new Error('tiny landmark net: weights not loaded');
    }
    this.blocks = [params.dense0, params.dense1, params.dense2].map(denseBlockParams);
  }

  override runNet(input: faceapi.NetInput | faceapi.tf.Tensor4D): faceapi.tf.Tensor2D {
    const blocks = this.blocks;
    if (!(input instanceof faceapi.NetInput)) {
      return super.runNet(input);
    }
    if (blocks === undefined) {
      throw new Error('tiny landmark net: prepare() not called');
    }
    const features = tf.tidy(() => {
      let out = normalise(input.toBatchTensor(112, true), FACE_MEAN_RGB);
      for (const block of blocks) {
        out = denseBlock(out, block);
      }
      return tf.avgPool(out, [14, 14], [2, 2], 'valid');
    });
    try {
      // The fully connected head is one small matMul: face-api's own runs it.
      return super.runNet(toFaceApi<faceapi.tf.Tensor4D>(features));
    } finally {
      features.dispose();
    }
  }
}

type RecognitionParams = NonNullable<faceapi.FaceRecognitionNet['params']>;
type ScaledConvParams = RecognitionParams['conv32_down'];
type ResidualParams = RecognitionParams['conv32_1'];

interface Residual {
  conv1: FusedConv;
  conv2: FusedConv;
}

/** conv + bias followed by a per-channel scale and shift is one conv with scaled filters and bias. */
function foldScale({ conv: { filters, bias }, scale }: ScaledConvParams): FusedConv {
  const weights = toTf<tf.Tensor1D>(scale.weights);
  return {
    filter: tf.mul(toTf<tf.Tensor4D>(filters), weights),
    bias: tf.add(tf.mul(toTf<tf.Tensor1D>(bias), weights), toTf<tf.Tensor1D>(scale.biases)),
  };
}

function residual(x: tf.Tensor4D, block: Residual): tf.Tensor4D {
  const out = conv(conv(x, block.conv1, 1, 'same', 'relu'), block.conv2, 1, 'same', 'linear');
  return tf.relu(tf.add<tf.Tensor4D>(out, x));
}

/** face-api's residualDown: zero padding by tf.pad (native) instead of concat with zeros (a JS loop). */
function residualDown(x: tf.Tensor4D, block: Residual): tf.Tensor4D {
  const out = conv(conv(x, block.conv1, 2, 'valid', 'relu'), block.conv2, 1, 'same', 'linear');
  const pooled = tf.avgPool(x, 2, 2, 'valid');
  const [, height, width, channels] = out.shape;
  const [, pooledHeight, pooledWidth, pooledChannels] = pooled.shape;
  const paddedOut = tf.pad(out, [
    [0, 0],
    [0, pooledHeight - height],
    [0, pooledWidth - width],
    [0, 0],
  ]);
  const paddedPooled = tf.pad(pooled, [
    [0, 0],
    [0, 0],
    [0, 0],
    [0, channels - pooledChannels],
  ]);
  return tf.relu(tf.add<tf.Tensor4D>(paddedPooled, paddedOut));
}

/** 128-d recognition net (a ResNet-34 variant): face-api's graph with folded scales and fused ReLUs. */
class FusedFaceRecognitionNet extends faceapi.FaceRecognitionNet {
  private layers:
    { down: FusedConv; blocks: { down: boolean; block: Residual }[]; fc: tf.Tensor2D } | undefined;

  prepare(): void {
    const params = this.params;
    if (params === undefined) {
      throw new Error('face recognition net: weights not loaded');
    }
    const residuals: [ResidualParams, boolean][] = [
      [params.conv32_1, false],
      [params.conv32_2, false],
      [params.conv32_3, false],
      [params.conv64_down, true],
      [params.conv64_1, false],
      [params.conv64_2, false],
      [params.conv64_3, false],
      [params.conv128_down, true],
      [params.conv128_1, false],
      [params.conv128_2, false],
      [params.conv256_down, true],
      [params.conv256_1, false],
      [params.conv256_2, false],
      [params.conv256_down_out, true],
    ];
    this.layers = {
      down: foldScale(params.conv32_down),
      blocks: residuals.map(([block, down]) => ({
        down,
        block: { conv1: foldScale(block.conv1), conv2: foldScale(block.conv2) },
      })),
      fc: toTf(params.fc),
    };
  }

  override forwardInput(input: faceapi.NetInput): faceapi.tf.Tensor2D {
    const layers = this.layers;
    if (layers === undefined) {
      throw new Error('face recognition net: prepare() not called');
    }
    const output = tf.tidy(() => {
      const x = normalise(input.toBatchTensor(150, true), FACE_MEAN_RGB);
      let out = tf.maxPool(conv(x, layers.down, 2, 'valid', 'relu'), 3, 2, 'valid');
      for (const { down, block } of layers.blocks) {
        out = down ? residualDown(out, block) : residual(out, block);
      }
      return tf.matMul(tf.mean<tf.Tensor2D>(out, [1, 2]), layers.fc);
    });
    return toFaceApi(output);
  }
}

const tinyDetector = new FusedTinyFaceDetector();
const landmarkNet = new FusedFaceLandmark68TinyNet();
const recognitionNet = new FusedFaceRecognitionNet();
const ssd = new faceapi.SsdMobilenetv1();

async function loadModels(): Promise<void> {
  await useWasmBackend();
  await Promise.all([
    tinyDetector.loadFromDisk(MODEL_DIR),
    landmarkNet.loadFromDisk(MODEL_DIR),
    recognitionNet.loadFromDisk(MODEL_DIR),
    ssd.loadFromDisk(MODEL_DIR),
  ]);
  tinyDetector.prepare();
  landmarkNet.prepare();
  recognitionNet.prepare();
}

/**
 * The first run of each net sets up its wasm kernels and takes about twice as long as the next:
 * pay that while starting, not on the first upload. Not for SSD: it only runs when the tiny
 * detector finds nothing, and its first run (0.9-1.5 s, against 0.5-1.0 s for the next) would
 * nearly double the cold start for a saving on one rare image per worker.
 */
async function warmUp(): Promise<void> {
  const inputs = [
    [480, 640],
    [112, 112],
    [150, 150],
  ].map(([height, width]) => faceapi.tf.zeros([height, width, 3]) as faceapi.tf.Tensor3D);
  try {
    await tinyDetector.locateFaces(
      inputs[0],
      new faceapi.TinyFaceDetectorOptions({ inputSize: TINY_INPUT_SIZE }),
    );
    await landmarkNet.detectLandmarks(inputs[1]);
    await recognitionNet.computeFaceDescriptor(inputs[2]);
  } finally {
    for (const input of inputs) {
      input.dispose();
    }
  }
}

function centre(points: faceapi.Point[]): { x: number; y: number } {
  const sum = points.reduce((acc, p) => ({ x: acc.x + p.x, y: acc.y + p.y }), { x: 0, y: 0 });
  return { x: sum.x / points.length, y: sum.y / points.length };
}

function pose(landmarks: faceapi.FaceLandmarks68): { yaw: number; roll: number } {
  const jaw = landmarks.getJawOutline();
  const noseTip = landmarks.positions[30];
  const left = jaw[0];
  const right = jaw[jaw.length - 1];
  // Projecting onto the jaw line, rather than taking x alone, keeps yaw independent of roll.
  const dx = right.x - left.x;
  const dy = right.y - left.y;
  const span = dx * dx + dy * dy;
  const along = span > 0 ? ((noseTip.x - left.x) * dx + (noseTip.y - left.y) * dy) / span : 0.5;
  const leftEye = centre(landmarks.getLeftEye());
  const rightEye = centre(landmarks.getRightEye());
  return {
    yaw: Math.max(-1, Math.min(1, 2 * along - 1)),
    roll: (Math.atan2(rightEye.y - leftEye.y, rightEye.x - leftEye.x) * 180) / Math.PI,
  };
}

/**
 * One buffer for the int32 values of every tensor made from pixels: tfjs copies them into wasm
 * memory as the tensor is made, so the buffer is free again at once. A fresh Int32Array per image
 * (4 bytes a channel, 3.7 MB at 640x480) was external memory that drove the worker into a
 * mark-compact every other image.
 */
let int32Scratch = new Int32Array(0);

function pixelTensor(rows: number, columns: number, fill: (values: Int32Array) => void): faceapi.tf.Tensor3D {
  const size = rows * columns * 3;
  if (int32Scratch.length < size) {
    int32Scratch = new Int32Array(size);
  }
  const values = int32Scratch.subarray(0, size);
  fill(values);
  return faceapi.tf.tensor3d(values, [rows, columns, 3], 'int32');
}

/**
 * The pixels of `box` (clipped to the image, whole pixels, at least one), cut from the job's
 * bytes a row at a time. face-api's extractFaceTensors cuts the same pixels with tf.slice, which on
 * the wasm backend copies the whole image out of wasm memory for each face and then copies the box
 * one pixel at a time through a new typed-array view per pixel: for a 640 px image, 10 ms and
 * most of the garbage the worker made.
 */
function faceTile(job: FaceJob, box: faceapi.Box): faceapi.tf.Tensor3D {
  // clipAtImageBorders floors and keeps x and y >= 0, but leaves a box past the right or bottom
  // edge empty: such a box keeps its last pixel, so that tiles stay one per detection.
  const { x, y, width, height } = box.clipAtImageBorders(job.width, job.height);
  const left = Math.min(x, job.width - 1);
  const top = Math.min(y, job.height - 1);
  const columns = Math.max(1, Math.min(width, job.width - left));
  const rows = Math.max(1, Math.min(height, job.height - top));
  const rowBytes = columns * 3;
  return pixelTensor(rows, columns, (values) => {
    for (let row = 0; row < rows; row++) {
      const start = ((top + row) * job.width + left) * 3;
      values.set(job.pixels.subarray(start, start + rowBytes), row * rowBytes);
    }
  });
}

/** Runs `compute` on the tile of each box in turn, disposing each tile whatever happens. */
async function perTile<T>(
  job: FaceJob,
  boxes: faceapi.Box[],
  compute: (tile: faceapi.tf.Tensor3D) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  for (const box of boxes) {
    const tile = faceTile(job, box);
    try {
      results.push(await compute(tile));
    } finally {
      tile.dispose();
    }
  }
  return results;
}

/**
 * Detection, landmarks, descriptors: face-api's detectAllFaces().withFaceLandmarks()
 * .withFaceDescriptors() step by step, so that each stage can be timed and the detector can fall
 * back to SSD.
 */
async function describeFaces(job: FaceJob): Promise<FaceJobResult> {
  let mark = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const elapsed = now - mark;
    mark = now;
    return elapsed;
  };
  const input = pixelTensor(job.height, job.width, (values) => values.set(job.pixels));
  try {
    const tensor = lap();
    let detections = await tinyDetector.locateFaces(
      input,
      new faceapi.TinyFaceDetectorOptions({ inputSize: TINY_INPUT_SIZE, scoreThreshold: job.minConfidence }),
    );
    // SSD at 512 costs about five times the tiny detector, and finds faces that are small or
    // cut by the image edge better: worth it only when the tiny detector saw nothing at all.
    const fallback = detections.length === 0;
    if (fallback) {
      detections = await ssd.locateFaces(
        input,
        new faceapi.SsdMobilenetv1Options({ minConfidence: job.minConfidence }),
      );
    }
    const detect = lap();
    const landmarks = (
      await perTile(
        job,
        detections.map(({ box }) => box),
        async (tile) => {
          const found = await landmarkNet.detectLandmarks(tile);
          if (Array.isArray(found)) {
            throw new Error('landmark net returned a batch for one face');
          }
          return found;
        },
      )
    ).map((found, i) => found.shiftBy<faceapi.FaceLandmarks68>(detections[i].box.x, detections[i].box.y));
    const landmarksMs = lap();
    // dlib's alignment (eyes and mouth at fixed places) is what the recognition net was trained on.
    const aligned = landmarks.map((points) => points.align(null, { useDlibAlignment: true }));
    const descriptors = await perTile(job, aligned, async (tile) => {
      const descriptor = await recognitionNet.computeFaceDescriptor(tile);
      if (Array.isArray(descriptor)) {
        throw new Error('recognition net returned a batch for one face');
      }
      return descriptor;
    });
    const descriptor = lap();
    return {
      faces: detections.map(({ box, score }, i) => ({
        box: { x: box.x, y: box.y, width: box.width, height: box.height },
        score,
        ...pose(landmarks[i]),
        descriptor: descriptors[i],
      })),
      fallback,
      stages: { tensor, detect, landmarks: landmarksMs, descriptor },
    };
  } finally {
    input.dispose();
  }
}

serveWorker<FaceJob, FaceJobResult>(async () => {
  await loadModels();
  await warmUp();
  return describeFaces;
});
