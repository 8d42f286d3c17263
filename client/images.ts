/**
 * Image input as Node-RED users hand it over: a Buffer from a file or camera node, a base64 string
 * from an HTTP API, a data URL from a dashboard, or a Buffer that went through JSON
 * (`{type:'Buffer',data:[...]}`). Everything becomes one Buffer that is checked to be a JPEG or PNG.
 */
import { ApiError } from './errors';

export type ImageInput = Buffer | Uint8Array | string | SerializedBuffer;

export interface SerializedBuffer {
  type: 'Buffer';
  data: number[];
}

export type ImageType = 'image/jpeg' | 'image/png';

const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Formats users send by mistake, named so the error says what was received. */
const OTHER_FORMATS: [string, (b: Buffer) => boolean][] = [
  ['GIF', (b) => b.subarray(0, 4).toString('latin1') === 'GIF8'],
  [
    'WebP',
    (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  ],
  ['BMP', (b) => b.subarray(0, 2).toString('latin1') === 'BM'],
  ['PDF', (b) => b.subarray(0, 5).toString('latin1') === '%PDF-'],
  ['HEIC', (b) => b.subarray(4, 12).toString('latin1').startsWith('ftyphei')],
  ['TIFF', (b) => ['II*\0', 'MM\0*'].includes(b.subarray(0, 4).toString('latin1'))],
];

/** Takes any Uint8Array, as callers outside TypeScript may pass one: only the magic is a Buffer. */
export function sniffImageType(bytes: Uint8Array): ImageType | undefined {
  if (bytes.length >= 3 && JPEG_MAGIC.equals(bytes.subarray(0, 3))) return 'image/jpeg';
  if (bytes.length >= 8 && PNG_MAGIC.equals(bytes.subarray(0, 8))) return 'image/png';
  return undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)?(;[\w-]+=[\w.-]+)*;base64,/;

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value === 'object') {
    // A form-encoded body of bare base64 parses to one key holding the whole image: keep keys short.
    const keys = Object.keys(value)
      .slice(0, 5)
      .map((key) => (key.length > 40 ? `${key.slice(0, 40)}...` : key));
    return keys.length ? `an object with keys ${keys.join(', ')}` : 'an empty object';
  }
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return `a ${typeof value}`;
}

function isSerializedBuffer(value: unknown): value is SerializedBuffer {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  );
}

function decodeBase64(text: string): Buffer | undefined {
  const compact =
    text.includes('\n') || text.includes('\r') || text.includes(' ') ? text.replace(/\s+/g, '') : text;
  if (compact.length === 0) return Buffer.alloc(0);
  if (BASE64.test(compact) || BASE64URL.test(compact)) return Buffer.from(compact, 'base64');
  return undefined;
}

function tooLarge(size: number, limits: ImageLimits): string {
  return `is ${size} bytes, over the limit of ${limits.maxBytes} bytes`;
}

function toBytes(value: unknown, limits: ImageLimits, fail: (why: string) => never): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (isSerializedBuffer(value)) {
    const { data } = value;
    // Measured before it is read: a sparse array of 10^8 holes took half a minute to scan.
    if (data.length > limits.maxBytes) fail(tooLarge(data.length, limits));
    // By index, not every(): that skips holes, which Buffer.from would turn into zeros.
    for (let i = 0; i < data.length; i++) {
      const n = data[i];
      if (!(Number.isInteger(n) && n >= 0 && n <= 255)) {
        fail('is a serialized Buffer whose data holds values that are not bytes');
      }
    }
    return Buffer.from(data);
  }
  if (typeof value === 'string') {
    const dataUrl = DATA_URL.exec(value);
    const bytes = decodeBase64(dataUrl ? value.slice(dataUrl[0].length) : value);
    if (bytes) return bytes;
    fail(
      dataUrl
        ? 'is a data URL whose payload is not valid base64'
        : `is ${describeValue(value)} that is neither base64 nor a data URL`,
    );
  }
  fail(`expected an image as a Buffer, base64 string or data URL, got ${describeValue(value)}`);
}

export interface ImageLimits {
  /** Larger images are refused before anything is sent. */
  maxBytes: number;
}

/**
 * Turns any accepted image input into a Buffer of a JPEG or PNG, or throws an INVALID_INPUT
 * ApiError that names the field and what was received.
 */
export function toImageBuffer(operation: string, field: string, value: unknown, limits: ImageLimits): Buffer {
  const fail = (why: string): never => {
    throw new ApiError({ operation, code: 'INVALID_INPUT', message: `${field} ${why}` });
  };
  if (value === undefined) fail('is missing: expected a JPEG or PNG image');
  const bytes = toBytes(value, limits, fail);
  if (bytes.length === 0) fail('is empty: expected a JPEG or PNG image');
  if (bytes.length > limits.maxBytes) fail(tooLarge(bytes.length, limits));
  if (!sniffImageType(bytes)) {
    const other = OTHER_FORMATS.find(([, test]) => test(bytes));
    const head = bytes
      .subarray(0, 4)
      .toString('hex')
      .replace(/(..)(?!$)/g, '$1 ');
    fail(
      other
        ? `is a ${other[0]} image; only JPEG and PNG are accepted`
        : `is not a JPEG or PNG image (${bytes.length} bytes starting ${head})`,
    );
  }
  return bytes;
}
