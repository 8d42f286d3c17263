/**
 * tfjs's wasm backend and face-api's weights, from the installed packages on disk: nothing is
 * fetched. For the face worker, and for the test that checks it against face-api's own pipeline.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

/** face-api's weight manifests and shards. */
export const MODEL_DIR = path.join(
  path.dirname(require.resolve('@vladmandic/face-api/package.json')),
  'model',
);
const WASM_DIR = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

export async function useWasmBackend(): Promise<void> {
  // A directory prefix makes tfjs pick the right binary (SIMD when the CPU has it) and read it
  // from disk in Node. tfjs never picks the threaded build in Node, so XNNPACK runs one thread per
  // worker: what a pool of one worker per core wants.
  setWasmPaths(WASM_DIR + path.sep);
  if (!(await tf.setBackend('wasm'))) {
    throw new Error(`tfjs wasm backend failed to initialise from ${WASM_DIR}`);
  }
  await tf.ready();
}
