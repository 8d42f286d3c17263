/**
 * Request bodies built as one Buffer each. JSON bodies that carry images are assembled around the
 * base64 text, which is produced once and copied once: JSON.stringify of an object holding a
 * 270 KB string would escape-scan and copy it again, which is most of a request's CPU cost.
 */
import FormData from 'form-data';

export interface BuiltBody {
  data: Buffer;
  contentType: string;
}

/** `fields` must hold no image; `binaries` are written as base64 strings under their keys. */
export function jsonWithBase64(fields: object, binaries: Record<string, Buffer | undefined>): BuiltBody {
  const pieces: { text: string; encoding: BufferEncoding }[] = [];
  let open = '{';
  for (const [key, bytes] of Object.entries(binaries)) {
    if (bytes === undefined) continue;
    pieces.push({ text: `${open}${JSON.stringify(key)}:"`, encoding: 'utf8' });
    pieces.push({ text: bytes.toString('base64'), encoding: 'latin1' });
    pieces.push({ text: '"', encoding: 'utf8' });
    open = ',';
  }
  const rest = JSON.stringify(fields);
  if (rest === '{}') pieces.push({ text: open === '{' ? '{}' : '}', encoding: 'utf8' });
  else pieces.push({ text: open === '{' ? rest : `,${rest.slice(1)}`, encoding: 'utf8' });

  let length = 0;
  for (const piece of pieces) length += Buffer.byteLength(piece.text, piece.encoding);
  const data = Buffer.allocUnsafe(length);
  let offset = 0;
  for (const piece of pieces) offset += data.write(piece.text, offset, piece.encoding);
  return { data, contentType: 'application/json' };
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
 * A multipart body as one Buffer (form-data's getBuffer), about 3x cheaper than streaming form-data
 * through axios, and rebuildable for each attempt.
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
