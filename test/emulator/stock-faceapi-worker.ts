/**
 * face-api's own pipeline, unmodified, for the test that checks the engine's rewritten nets against
 * it: detectAllFaces with the Tiny Face Detector, tiny 68-point landmarks, descriptors.
 */
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import type { BoundingBox } from '../../emulator/engine/engine';
import type { FaceJob } from '../../emulator/engine/faceapi-worker';
import { MODEL_DIR, useWasmBackend } from '../../emulator/engine/tfjs-wasm';
import { serveWorker } from '../../emulator/engine/worker-pool';

export interface StockFace {
  /** In the job's pixels. */
  box: BoundingBox;
  score: number;
  descriptor: Float32Array;
}

serveWorker<FaceJob & { inputSize: number }, StockFace[]>(async () => {
  await useWasmBackend();
  await Promise.all([
    faceapi.nets.tinyFaceDetector.loadFromDisk(MODEL_DIR),
    faceapi.nets.faceLandmark68TinyNet.loadFromDisk(MODEL_DIR),
    faceapi.nets.faceRecognitionNet.loadFromDisk(MODEL_DIR),
  ]);
  return async ({ pixels, width, height, minConfidence, inputSize }) => {
    const input = faceapi.tf.tensor3d(pixels, [height, width, 3], 'int32');
    try {
      const results = await faceapi
        .detectAllFaces(
          input,
          new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: minConfidence }),
        )
        .withFaceLandmarks(true)
        .withFaceDescriptors();
      return results.map(({ detection: { box, score }, descriptor }) => ({
        box: { x: box.x, y: box.y, width: box.width, height: box.height },
        score,
        descriptor,
      }));
    } finally {
      input.dispose();
    }
  };
});
