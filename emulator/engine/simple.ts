/**
 * A deterministic stand-in for a face engine, for tests of the API surface that must not depend on
 * a neural network: every decodable JPEG or PNG of at least 48x48 pixels holds exactly one face
 * covering the whole image, and its descriptor is derived from the image's bytes, so the same bytes
 * are the same person and any other bytes are (almost surely, at distance ~1.4) someone else.
 * Smaller images hold no face. It recognises nobody across two different photos: that is the
 * real engine's job.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { DEFAULT_MATCH_THRESHOLD, ImageDecodeError, type EngineFace, type FaceEngine } from './engine';

const MIN_FACE_PIXELS = 48;
const DIMENSIONS = 128;

function descriptorOf(image: Buffer): Float32Array {
  const out = new Float32Array(DIMENSIONS);
  let seed = createHash('sha256').update(image).digest();
  for (let i = 0; i < DIMENSIONS; i += 8) {
    for (let j = 0; j < 8; j++) out[i + j] = seed.readInt32LE(j * 4) / 2 ** 31;
    seed = createHash('sha256').update(seed).digest();
  }
  const norm = Math.hypot(...out);
  return out.map((v) => v / norm);
}

export async function imageSize(image: Buffer): Promise<{ width: number; height: number }> {
  try {
    const { width, height, format } = await sharp(image).metadata();
    if ((format === 'jpeg' || format === 'png') && width && height) return { width, height };
  } catch {
    // Reported below as not decodable.
  }
  throw new ImageDecodeError('the image is not a decodable JPEG or PNG');
}

export function createSimpleEngine(matchThreshold = DEFAULT_MATCH_THRESHOLD): FaceEngine {
  const detect = async (image: Buffer): Promise<EngineFace[]> => {
    const { width, height } = await imageSize(image);
    if (width < MIN_FACE_PIXELS || height < MIN_FACE_PIXELS) return [];
    return [
      { box: { x: 0, y: 0, width, height }, confidence: 0.99, quality: 0.9, descriptor: descriptorOf(image) },
    ];
  };
  return {
    name: 'simple',
    matchThreshold,
    detect,
    describeCropped: async (image) => (await detect(image))[0] ?? null,
    close: async () => undefined,
  };
}
