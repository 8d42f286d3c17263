/**
 * Turns uploaded bytes into the RGB pixels the face worker analyses, and maps boxes found in those
 * pixels back to the image as uploaded (after EXIF rotation). Decoding happens on the caller's
 * thread with sharp, which works off the event loop on libuv's pool, so the inference workers never
 * see a malformed file and never hold sharp when they are terminated.
 */
import sharp from 'sharp';
import { sniffImageType } from '../../client/images';
import { type BoundingBox, ImageDecodeError } from './engine';

export interface DecodeOptions {
  /** Longest side of the analysed image before padding; smaller images are not enlarged. */
  maxSide: number;
  /** Edge-replicated margin added to each side, as a fraction of the analysed width or height. */
  padFraction: number;
}

export interface DecodedImage {
  /** Packed RGB, 3 bytes per pixel, row by row. */
  pixels: Uint8Array;
  width: number;
  height: number;
  /** The uploaded image's size after EXIF rotation: boxes are reported in this frame. */
  sourceWidth: number;
  sourceHeight: number;
  /** analysed x = source x * scaleX + padX (likewise for y). */
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

const FORMATS = { 'image/jpeg': 'jpeg', 'image/png': 'png' } as const;

export async function decodeImage(bytes: Buffer, options: DecodeOptions): Promise<DecodedImage> {
  // Only JPEG and PNG are accepted, by signature: sharp would otherwise also open GIF, WebP, TIFF,
  // SVG and more, which the real API refuses and which widen what a hostile upload can reach.
  const type = sniffImageType(bytes);
  const format = type && FORMATS[type];
  if (format === undefined) {
    throw new ImageDecodeError('not a JPEG or PNG image');
  }
  // 'truncated' is the most lenient level that still refuses a cut-off or corrupt scan: a partial
  // image would give a face-less grey band, or a wrong descriptor, instead of an error.
  const input = { failOn: 'truncated', autoOrient: true } as const;
  try {
    const metadata = await sharp(bytes, input).metadata();
    if (metadata.format !== format) {
      throw new Error(`signature says ${format}, content says ${metadata.format}`);
    }
    const { width: sourceWidth, height: sourceHeight } = metadata.autoOrient;
    const resized = await sharp(bytes, input)
      .resize({ width: options.maxSide, height: options.maxSide, fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    let { data, info } = resized;
    const scaleX = info.width / sourceWidth;
    const scaleY = info.height / sourceHeight;
    const padX = Math.round(info.width * options.padFraction);
    const padY = Math.round(info.height * options.padFraction);
    if (padX > 0 || padY > 0) {
      // sharp applies extend after resize whatever the call order, hence a second pass on raw pixels.
      ({ data, info } = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
        .extend({ top: padY, bottom: padY, left: padX, right: padX, extendWith: 'copy' })
        .raw()
        .toBuffer({ resolveWithObject: true }));
    }
    if (info.channels !== 3) {
      throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    }
    return {
      // A right-sized copy: sharp's buffer may not be transferable to a worker.
      pixels: new Uint8Array(data),
      width: info.width,
      height: info.height,
      sourceWidth,
      sourceHeight,
      scaleX,
      scaleY,
      padX,
      padY,
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ImageDecodeError(`${format.toUpperCase()} image could not be decoded: ${reason}`);
  }
}

/** Maps a box in analysed pixels to whole pixels of the uploaded image, clipped to its bounds. */
export function toSourceBox(box: BoundingBox, image: DecodedImage): BoundingBox {
  const toX = (x: number): number => Math.round(clamp((x - image.padX) / image.scaleX, 0, image.sourceWidth));
  const toY = (y: number): number =>
    Math.round(clamp((y - image.padY) / image.scaleY, 0, image.sourceHeight));
  const left = toX(box.x);
  const top = toY(box.y);
  const right = toX(box.x + box.width);
  const bottom = toY(box.y + box.height);
  return { x: left, y: top, width: right - left, height: bottom - top };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
