/**
 * The benchmark's images: real JPEG photos of a face (test/fixtures/obama.jpg, scaled), padded with
 * JPEG comment segments to an exact size, so that "200 KB" means 204,800 bytes on every machine
 * whatever sharp's encoder version produces. Decoders skip comments, so the face engine sees the photo.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { FIXTURES as FIXTURE_DIR } from '../scripts/runtime';

const FIXTURE = path.join(FIXTURE_DIR, 'obama.jpg');
/** A comment segment holds at most 65,535 bytes including its 2-byte length. */
const MAX_SEGMENT = 65_535;

function padded(jpeg: Buffer, size: number): Buffer {
  let missing = size - jpeg.length;
  if (missing < 0) throw new Error(`the encoded image is ${jpeg.length} bytes, over ${size}`);
  const segments: Buffer[] = [jpeg.subarray(0, 2)];
  while (missing > 0) {
    // Each segment costs 4 bytes of marker and length; never leave a remainder too small for one.
    let total = Math.min(missing, MAX_SEGMENT + 2);
    if (missing - total > 0 && missing - total < 4) total -= 4;
    if (total < 4) throw new Error(`cannot pad by ${missing} bytes`);
    const segment = Buffer.alloc(total, 0x20);
    segment[0] = 0xff;
    segment[1] = 0xfe;
    segment.writeUInt16BE(total - 2, 2);
    segments.push(segment);
    missing -= total;
  }
  segments.push(jpeg.subarray(2));
  return Buffer.concat(segments);
}

/** A JPEG of the fixture's face, `width` pixels wide, exactly `size` bytes long. */
export async function benchJpeg(width: number, size: number): Promise<Buffer> {
  for (let quality = 90; quality >= 30; quality -= 10) {
    const jpeg = await sharp(readFileSync(FIXTURE)).resize({ width }).jpeg({ quality }).toBuffer();
    if (jpeg.length <= size) return padded(jpeg, size);
  }
  throw new Error(`no JPEG of width ${width} fits in ${size} bytes`);
}
