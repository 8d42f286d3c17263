/**
 * Request bodies built as one Buffer each. JSON bodies that carry images are assembled around the
 * base64 text, which is written once, straight into the body in slices: JSON.stringify of an object holding a
 * 270 KB string would escape-scan and copy it again, which is most of a request's CPU cost.
 */
import FormData from 'form-data';

export interface BuiltBody {
  data: Buffer;
  contentType: string;
  /**
   * Gives `data` back to the BodyBuffers it came from. The transport calls it once the request is
   * written in full (its 'finish' came, so the socket holds no pointer into it any more) and
   * closed; never after a request that failed mid-write.
   */
  release?: () => void;
}

const KB = 1024;
/** Bodies under this come from Buffer.allocUnsafe: small allocations cost little to make. */
const MIN_POOLED_BYTES = 64 * KB;

/**
 * Memory for image-sized request bodies, reused from one request to the next.
 *
 * A fresh 270 KB Buffer per request was the largest client-side cost at 200 KB images: each is an
 * ArrayBuffer allocated outside V8's heap, and V8 answers that much external memory with frequent
 * full garbage collections, which mark the whole heap of the process (all of Node-RED's, in a flow).
 * Measured in `npm run bench` at 200 KB, concurrency 8: client CPU 3.0 -> 1.2 ms per request.
 *
 * Sizes are rounded up to classes a quarter of a power of two apart (at most 19 % unused), so that
 * one camera's images, which vary by some percent in size, share buffers. A buffer is only reused
 * after its request's release; at most `maxRetainedBytes` wait for reuse, the rest go to the GC.
 */
export class BodyBuffers {
  private readonly free = new Map<number, Buffer[]>();
  private retainedBytes = 0;

  constructor(private readonly maxRetainedBytes = 16 * KB * KB) {}

  /** `length` bytes to write a body into, with the release that gives them back. */
  take(length: number): { data: Buffer; release?: () => void } {
    if (length < MIN_POOLED_BYTES) return { data: Buffer.allocUnsafe(length) };
    const capacity = sizeClass(length);
    const whole = this.free.get(capacity)?.pop();
    if (whole) this.retainedBytes -= capacity;
    const buffer = whole ?? Buffer.allocUnsafeSlow(capacity);
    let released = false;
    return {
      data: buffer.subarray(0, length),
      release: () => {
        if (released || this.retainedBytes + capacity > this.maxRetainedBytes) return;
        released = true;
        this.retainedBytes += capacity;
        const list = this.free.get(capacity);
        if (list) list.push(buffer);
        else this.free.set(capacity, [buffer]);
      },
    };
  }

  /** Bytes waiting for reuse. */
  get retained(): number {
    return this.retainedBytes;
  }
}

/** The smallest 2^(k/4) bytes, rounded up to a KB, that holds `length`. */
function sizeClass(length: number): number {
  return Math.ceil(2 ** (Math.ceil(4 * Math.log2(length)) / 4) / KB) * KB;
}

/**
 * Base64 is produced in slices of this many input bytes (a multiple of 3, so slices join without
 * padding): each slice's text (64 KiB) stays a small young-generation string. One 270 KB string
 * lands in V8's large-object space instead, and measured on the benchmark machine (Node 20) encoding
 * and copying 200 KB that way cost ~0.6 ms, ten times what 50 KB cost.
 */
const SLICE_BYTES = 3 * 16 * 1024;

function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

function writeBase64(bytes: Buffer, target: Buffer, offset: number): number {
  let end = offset;
  for (let start = 0; start < bytes.length; start += SLICE_BYTES) {
    end += target.write(bytes.toString('base64', start, start + SLICE_BYTES), end, 'latin1');
  }
  return end;
}

/**
 * `fields` must hold no image; `binaries` are written as base64 strings under their keys. With
 * `buffers`, the body is written into reusable memory and comes with its release.
 */
export function jsonWithBase64(
  fields: object,
  binaries: Record<string, Buffer | undefined>,
  buffers?: BodyBuffers,
): BuiltBody {
  const present = Object.entries(binaries).filter(
    (entry): entry is [string, Buffer] => entry[1] !== undefined,
  );
  const rest = JSON.stringify(fields);
  const heads = present.map(([key], index) => `${index === 0 ? '{' : ','}${JSON.stringify(key)}:"`);
  const tail = present.length === 0 ? rest : rest === '{}' ? '}' : `,${rest.slice(1)}`;

  let length = Buffer.byteLength(tail, 'utf8');
  present.forEach(([, bytes], index) => {
    length += Buffer.byteLength(heads[index], 'utf8') + base64Length(bytes.length) + 1;
  });
  const { data, release } = buffers ? buffers.take(length) : { data: Buffer.allocUnsafe(length) };
  let offset = 0;
  present.forEach(([, bytes], index) => {
    offset += data.write(heads[index], offset, 'utf8');
    offset = writeBase64(bytes, data, offset);
    data[offset++] = 0x22; // the closing quote
  });
  data.write(tail, offset, 'utf8');
  return { data, contentType: 'application/json', release };
}

export function json(value: unknown): BuiltBody {
  return { data: Buffer.from(JSON.stringify(value), 'utf8'), contentType: 'application/json' };
}

export interface MultipartFile {
  data: Buffer;
  fileName: string;
  contentType: string;
}

/**
 * A multipart body as one Buffer (form-data's getBuffer), about 3x cheaper than streaming it, sent
 * with a Content-Length, and rebuildable for each attempt.
 */
export function multipart(parts: Record<string, string | MultipartFile | undefined>): BuiltBody {
  const form = new FormData();
  for (const [name, value] of Object.entries(parts)) {
    if (value === undefined) continue;
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, value.data, { filename: value.fileName, contentType: value.contentType });
  }
  return { data: form.getBuffer(), contentType: form.getHeaders()['content-type'] as string };
}
