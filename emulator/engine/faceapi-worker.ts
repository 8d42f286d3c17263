/**
 * Face worker: runs face-api (SSD MobileNet v1 detector, 68-point landmarks, 128-d recognition net)
 * on tfjs's wasm backend. The wasm backend computes synchronously on the thread that calls it, so
 * each worker owns one copy of the models and the pool supplies the parallelism.
 *
 * Models and wasm binaries come from the installed packages on disk: nothing is fetched.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import type { BoundingBox } from './engine';
import { serveWorker } from './worker-pool';

export interface FaceJob {
  /** Packed RGB, 3 bytes per pixel. */
  pixels: Uint8Array;
  width: number;
  height: number;
  /** SSD detection score below which a candidate is dropped. */
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

export interface FaceJobResult {
  faces: WorkerFace[];
}

const MODEL_DIR = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const WASM_DIR = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

async function loadModels(): Promise<void> {
  // A directory prefix makes tfjs pick the right binary (SIMD when the CPU has it) and read it
  // from disk in Node.
  setWasmPaths(WASM_DIR + path.sep);
  if (!(await tf.setBackend('wasm'))) {
    throw new Error(`tfjs wasm backend failed to initialise from ${WASM_DIR}`);
  }
  await tf.ready();
  await Promise.all([
    faceapi.nets.ssdMobilenetv1.loadFromDisk(MODEL_DIR),
    faceapi.nets.faceLandmark68Net.loadFromDisk(MODEL_DIR),
    faceapi.nets.faceRecognitionNet.loadFromDisk(MODEL_DIR),
  ]);
}

/**
 * The first run of each net sets up its wasm kernels and takes about twice as long as the next:
 * pay that while starting, not on the first upload.
 */
async function warmUp(): Promise<void> {
  const inputs = [
    [480, 640],
    [112, 112],
    [150, 150],
  ].map(([height, width]) => faceapi.tf.zeros([height, width, 3], 'int32') as faceapi.tf.Tensor3D);
  try {
    await faceapi.detectAllFaces(inputs[0], new faceapi.SsdMobilenetv1Options({ minConfidence: 0.99 }));
    await faceapi.nets.faceLandmark68Net.detectLandmarks(inputs[1]);
    await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(inputs[2]);
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

async function describeFaces(job: FaceJob): Promise<WorkerFace[]> {
  const input = faceapi.tf.tensor3d(job.pixels, [job.height, job.width, 3], 'int32');
  try {
    const results = await faceapi
      .detectAllFaces(input, new faceapi.SsdMobilenetv1Options({ minConfidence: job.minConfidence }))
      .withFaceLandmarks()
      .withFaceDescriptors();
    return results.map(({ detection, landmarks, descriptor }) => ({
      box: {
        x: detection.box.x,
        y: detection.box.y,
        width: detection.box.width,
        height: detection.box.height,
      },
      score: detection.score,
      ...pose(landmarks),
      descriptor,
    }));
  } finally {
    input.dispose();
  }
}

serveWorker<FaceJob, FaceJobResult>(async () => {
  await loadModels();
  await warmUp();
  return async (job) => ({ faces: await describeFaces(job) });
});
