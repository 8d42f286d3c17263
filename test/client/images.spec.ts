import assert from 'node:assert/strict';
import FormData from 'form-data';
import busboy from 'busboy';
import { jsonWithBase64, multipart } from '../../client/bodies';
import { ApiError } from '../../client/errors';
import { toImageBuffer } from '../../client/images';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 9, 9]);
const limits = { maxBytes: 1000 };
const read = (value: unknown) => toImageBuffer('faceDetect', 'image', value, limits);

function rejects(value: unknown, message: RegExp, max = limits.maxBytes): void {
  assert.throws(
    () => toImageBuffer('faceDetect', 'image', value, { maxBytes: max }),
    (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 'INVALID_INPUT');
      assert.equal(err.operation, 'faceDetect');
      assert.match(err.message, /^faceDetect: image /);
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('image input', () => {
  it('accepts a JPEG or PNG as Buffer, Uint8Array, base64, data URL or serialized Buffer', () => {
    for (const bytes of [JPEG, PNG]) {
      assert.deepEqual(read(bytes), bytes);
      assert.deepEqual(read(new Uint8Array(bytes)), bytes);
      assert.deepEqual(read(bytes.toString('base64')), bytes);
      assert.deepEqual(read(bytes.toString('base64url')), bytes);
      assert.deepEqual(read(bytes.toString('base64').replace(/(.{4})/g, '$1\n')), bytes);
      assert.deepEqual(read(`data:image/jpeg;base64,${bytes.toString('base64')}`), bytes);
      assert.deepEqual(read(JSON.parse(JSON.stringify(bytes))), bytes);
    }
  });

  it('reads a Uint8Array view without copying the wrong bytes', () => {
    const backing = Buffer.concat([Buffer.from('xxxx'), JPEG]);
    assert.deepEqual(read(new Uint8Array(backing.buffer, backing.byteOffset + 4, JPEG.length)), JPEG);
  });

  it('names what was received when it is not an image', () => {
    rejects(undefined, /is missing/);
    rejects(42, /got a number/);
    rejects(null, /got null/);
    rejects({ file: 'x.jpg' }, /got an object with keys file/);
    rejects([1, 2], /got an array of 2 items/);
    rejects('', /is empty/);
    rejects(Buffer.alloc(0), /is empty/);
    rejects('hello, world!', /a string of 13 characters that is neither base64 nor a data URL/);
    rejects('data:image/png;base64,@@@', /data URL whose payload is not valid base64/);
    rejects({ type: 'Buffer', data: [1, 300] }, /values that are not bytes/);
    rejects(Buffer.from('GIF89a....'), /is a GIF image; only JPEG and PNG are accepted/);
    rejects(Buffer.from('%PDF-1.7 ...'), /is a PDF image/);
    rejects(Buffer.from('RIFF\0\0\0\0WEBPVP8 '), /is a WebP image/);
    rejects(Buffer.from([1, 2, 3, 4, 5]), /not a JPEG or PNG image \(5 bytes starting 01 02 03 04\)/);
  });

  it('refuses an image over the size limit before anything is sent', () => {
    rejects(Buffer.concat([JPEG, Buffer.alloc(100)]), /is 109 bytes, over the limit of 50 bytes/, 50);
  });
});

describe('request bodies', () => {
  it('assembles JSON around base64 exactly as JSON.stringify would', () => {
    const fields = {
      detectorName: 'Tür-Kamera "1"',
      largestFaceOnly: true,
      embeddings: [0.5, -1],
      none: undefined,
    };
    for (const binaries of [{}, { expanded: JPEG }, { image1: JPEG, image2: PNG }]) {
      for (const f of [fields, {}]) {
        const built = jsonWithBase64(f, binaries);
        const expected = {
          ...Object.fromEntries(Object.entries(binaries).map(([k, v]) => [k, v.toString('base64')])),
          ...JSON.parse(JSON.stringify(f)),
        };
        assert.deepEqual(JSON.parse(built.data.toString('utf8')), expected);
        assert.equal(built.contentType, 'application/json');
      }
    }
  });

  it('writes base64 exactly as toString would, at every length around the 3-byte groups and slices', () => {
    const lengths = [0, 1, 2, 3, 4, 5, 47, 48, 49, 1000];
    for (const slice of [48 * 1024, 3 * 16 * 1024])
      for (let d = -4; d <= 4; d++) lengths.push(slice + d, 2 * slice + d);
    lengths.push(200 * 1024 + 1);
    for (const length of lengths) {
      const bytes = Buffer.alloc(length);
      for (let i = 0; i < length; i++) bytes[i] = (i * 31 + 7) & 0xff;
      const built = JSON.parse(jsonWithBase64({ n: length }, { image: bytes }).data.toString('latin1')) as {
        image: string;
      };
      assert.equal(built.image, bytes.toString('base64'), `length ${length}`);
    }
  });

  it('leaves out an absent binary', () => {
    const built = jsonWithBase64({ a: 1 }, { expanded: JPEG, croppedAligned: undefined });
    assert.deepEqual(Object.keys(JSON.parse(built.data.toString())), ['expanded', 'a']);
  });

  it('builds a multipart body that a parser reads back, file names and types included', async () => {
    const built = multipart({
      personId: 'p-1',
      skipped: undefined,
      file: { data: PNG, fileName: 'id card.png', contentType: 'image/png' },
    });
    assert.ok(FormData && built.contentType.startsWith('multipart/form-data; boundary='));
    const parts: Record<string, string> = {};
    await new Promise<void>((resolve, reject) => {
      const parser = busboy({ headers: { 'content-type': built.contentType } });
      parser.on('field', (name, value) => (parts[name] = value));
      parser.on('file', (name, stream, info) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on(
          'end',
          () => (parts[name] = `${info.filename}|${info.mimeType}|${Buffer.concat(chunks).toString('hex')}`),
        );
      });
      parser.on('close', resolve).on('error', reject);
      parser.end(built.data);
    });
    assert.deepEqual(parts, { personId: 'p-1', file: `id card.png|image/png|${PNG.toString('hex')}` });
  });
});
