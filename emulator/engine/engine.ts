/**
 * The emulator's face engine contract. The HTTP layer never touches pixels: it hands image bytes to
 * an engine and gets faces with descriptors back; 1:N matching against the store happens in the
 * emulator with `distance` and `matchThreshold`.
 */

export interface BoundingBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface EngineFace {
  /** Pixel box in the image as uploaded, after EXIF rotation. */
  box: BoundingBox;
  /** Detection confidence, 0..1. */
  confidence: number;
  /** Face quality, 0..1 (size, sharpness, pose: the engine decides). */
  quality: number;
  /** 128-d descriptor. */
  descriptor: Float32Array;
}

export interface FaceEngine {
  readonly name: string;
  /** L2 distance at or under which two descriptors are the same person. */
  readonly matchThreshold: number;
  /**
   * Every face in the image, largest first. Rejects with ImageDecodeError when the bytes are not a
   * decodable JPEG or PNG (truncated, corrupt, another format). An image with no face gives [].
   */
  detect(image: Buffer): Promise<EngineFace[]>;
  /**
   * The face in an image that is already a cropped, aligned face (recognize, lookup): the engine may
   * describe the whole image when its detector finds nothing in so tight a crop. null when the image
   * holds no face at all. Rejects with ImageDecodeError like detect.
   */
  describeCropped(image: Buffer): Promise<EngineFace | null>;
  /** Releases workers and caches. */
  close(): Promise<void>;
}

export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
}

/** L2 descriptor distance at or under which two faces are the same person (face-api's usual 0.6), for both engines. */
export const DEFAULT_MATCH_THRESHOLD = 0.6;

export function euclideanDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new RangeError(`descriptor lengths differ: ${a.length} and ${b.length}`);
  }
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/**
 * Maps a descriptor distance to a 0..1 match confidence: 1 at distance 0, 0.5 exactly at the
 * threshold, 0 at twice the threshold and beyond. Monotone, so it orders candidates like distance.
 */
export function matchConfidence(distance: number, threshold: number): number {
  return Math.min(1, Math.max(0, 1 - distance / (2 * threshold)));
}
