import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ApiError } from '../../client/errors';
import { sniffImageType, toImageBuffer } from '../../client/images';
import {
  assertInvalidInput,
  CANARY,
  exoticValue,
  outcome,
  POLLUTING_KEYS,
  startFakeApi,
  utf16String,
  type FakeApi,
} from './support';

const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The client's default limit (client.ts DEFAULT_MAX_IMAGE_BYTES). */
const DEFAULT_MAX_BYTES = 15 * 1024 * 1024;

/** Every form a Node-RED flow hands an image over in. */
const ENCODINGS = [
  'buffer',
  'uint8array',
  'view',
  'base64',
  'base64url',
  'wrapped',
  'dataUrl',
  'serialized',
] as const;
type Encoding = (typeof ENCODINGS)[number];

function encode(bytes: Buffer, encoding: Encoding): unknown {
  switch (encoding) {
    case 'buffer':
      return Buffer.from(bytes);
    case 'uint8array':
      return new Uint8Array(bytes);
    case 'view': {
      // A window into a larger ArrayBuffer, as a TypedArray from a stream often is.
      const backing = Buffer.concat([Buffer.from('xx'), bytes, Buffer.from('yy')]);
      return new Uint8Array(backing.buffer, backing.byteOffset + 2, bytes.length);
    }
    case 'base64':
      return bytes.toString('base64');
    case 'base64url':
      return bytes.toString('base64url');
    case 'wrapped':
      return bytes.toString('base64').replace(/(.{76})/g, '$1\r\n');
    case 'dataUrl':
      return `data:image/jpeg;base64,${bytes.toString('base64')}`;
    case 'serialized':
      return JSON.parse(JSON.stringify(bytes));
  }
}

const encoding = fc.constantFrom(...ENCODINGS);

/** A JPEG or PNG as far as the client looks: the magic, then anything. */
const imageBytes = (maxLength = 200) =>
  fc
    .tuple(fc.constantFrom(JPEG_MAGIC, PNG_MAGIC), fc.uint8Array({ maxLength }))
    .map(([magic, rest]) => Buffer.concat([magic, rest]));

/** An image of exactly `size` bytes (at least 8). */
function imageOfSize(size: number): Buffer {
  const bytes = Buffer.alloc(size, 0x42);
  PNG_MAGIC.copy(bytes);
  return bytes;
}

const anythingAtAll = fc.oneof(
  exoticValue(fc.oneof(fc.string(), fc.constantFrom(...POLLUTING_KEYS, 'type', 'data'))),
  fc.anything({ values: [fc.constant(CANARY), fc.string(), fc.integer(), fc.constant(null)] }),
);

const strings = fc.oneof(
  utf16String(200),
  fc.base64String({ maxLength: 200 }),
  fc.stringMatching(/^[A-Za-z0-9_=+/-]{0,80}$/),
  fc.base64String().map((text) => `data:image/png;base64,${text}`),
  fc.tuple(fc.stringMatching(/^data:[\w.+;=/-]{0,30},$/), utf16String(40)).map(([head, tail]) => head + tail),
  fc
    .tuple(imageBytes(), fc.array(fc.nat(), { maxLength: 5 }), fc.constantFrom(' ', '\n', '\r\n', '\t'))
    .map(([bytes, cuts, space]) => {
      let text = bytes.toString('base64');
      for (const cut of cuts)
        text = text.slice(0, cut % (text.length + 1)) + space + text.slice(cut % (text.length + 1));
      return text;
    }),
);

/** The input is taken (a non-empty JPEG or PNG within the limit) or refused with a clear error. */
function assertTakenOrRefused(value: unknown, maxBytes: number): Buffer | ApiError {
  const result = outcome(() => toImageBuffer('faceDetect', 'image', value, { maxBytes }));
  if (result.ok) {
    assert.ok(Buffer.isBuffer(result.value));
    assert.ok(result.value.length > 0 && result.value.length <= maxBytes);
    assert.ok(sniffImageType(result.value), 'a JPEG or PNG');
    return result.value;
  }
  const error = assertInvalidInput(result.error, 'faceDetect', /^faceDetect: image /);
  assert.ok(!error.message.includes(CANARY), error.message);
  return error;
}

describe('property: image input', () => {
  it('any value at all is taken as a JPEG/PNG or refused with INVALID_INPUT naming the field', () => {
    fc.assert(
      fc.property(anythingAtAll, (value) => {
        assertTakenOrRefused(value, 1000);
      }),
      { numRuns: 1000 },
    );
  });

  it('any string (base64, base64url, data URLs, whitespace, garbage, lone surrogates) likewise', () => {
    fc.assert(
      fc.property(strings, (text) => {
        assertTakenOrRefused(text, 1000);
      }),
      { numRuns: 1000 },
    );
  });

  it('every encoding of a JPEG or PNG decodes to exactly its bytes', () => {
    fc.assert(
      fc.property(imageBytes(), encoding, (bytes, how) => {
        assert.deepEqual(toImageBuffer('faceDetect', 'image', encode(bytes, how), { maxBytes: 1000 }), bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('a serialized Buffer is taken exactly when every element is a byte; holes and other numbers are refused', () => {
    const element = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 255 }) },
      { weight: 1, arbitrary: fc.constantFrom(-1, 256, 0.5, -0, NaN, Infinity, 2 ** 53, -(2 ** 31)) },
      { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.anything()) },
    );
    const data = fc.oneof(
      fc.array(element, { maxLength: 40 }),
      fc.sparseArray(element, { maxLength: 40 }),
      fc.array(element, { maxLength: 40 }).map((rest) => [0xff, 0xd8, 0xff, ...rest]),
      fc
        .sparseArray(fc.integer({ min: 0, max: 255 }), { maxLength: 40 })
        .map((rest) => [0xff, 0xd8, 0xff, ...rest]),
    );
    fc.assert(
      fc.property(data, (numbers) => {
        const bytes = Array.from({ length: numbers.length }, (_, i) => i in numbers && numbers[i]);
        const allBytes = bytes.every(
          (n) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 255,
        );
        const result = assertTakenOrRefused({ type: 'Buffer', data: numbers }, 1000);
        if (result instanceof ApiError) {
          if (!allBytes) assert.match(result.message, /values that are not bytes/);
        } else {
          assert.ok(allBytes, 'only bytes are taken');
          assert.deepEqual(result, Buffer.from(numbers as number[]));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a serialized Buffer with holes is refused, not read as zeros (regression)', () => {
    // eslint-disable-next-line no-sparse-arrays
    const holey = [0xff, 0xd8, 0xff, , 1];
    const result = outcome(() =>
      toImageBuffer('faceDetect', 'image', { type: 'Buffer', data: holey }, { maxBytes: 100 }),
    );
    assert.ok(!result.ok);
    assertInvalidInput(result.error, 'faceDetect', /values that are not bytes/);
  });

  it('a serialized Buffer of 10^8 holes is refused at once for its size (regression: took 30 s)', () => {
    const data: number[] = [];
    data.length = 1e8;
    const started = Date.now();
    const result = outcome(() =>
      toImageBuffer('faceDetect', 'image', { type: 'Buffer', data }, { maxBytes: 1000 }),
    );
    assert.ok(!result.ok);
    assertInvalidInput(result.error, 'faceDetect', 'is 100000000 bytes, over the limit of 1000 bytes');
    assert.ok(Date.now() - started < 1000);
  });

  it('an object keyed by a whole base64 image (a form-encoded body) is named in a short message (regression)', () => {
    const key = imageOfSize(100_000).toString('base64');
    const result = outcome(() => toImageBuffer('faceDetect', 'image', { [key]: '' }, { maxBytes: 1000 }));
    assert.ok(!result.ok);
    assertInvalidInput(result.error, 'faceDetect', /got an object with keys iVBORw0K/);
  });

  it('sizes around any limit: taken up to it, refused past it with the size and the limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 4000 }),
        fc.integer({ min: -4, max: 4 }),
        encoding,
        (maxBytes, delta, how) => {
          const size = Math.max(8, maxBytes + delta);
          const result = assertTakenOrRefused(encode(imageOfSize(size), how), maxBytes);
          if (size <= maxBytes) assert.ok(Buffer.isBuffer(result), `${size} bytes within ${maxBytes}`);
          else {
            assert.ok(result instanceof ApiError);
            assert.ok(result.message.endsWith(`is ${size} bytes, over the limit of ${maxBytes} bytes`));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('sizes around the default 15 MiB limit, as a Buffer, base64 and a data URL', () => {
    const largest = imageOfSize(DEFAULT_MAX_BYTES + 1);
    for (const size of [DEFAULT_MAX_BYTES - 1, DEFAULT_MAX_BYTES, DEFAULT_MAX_BYTES + 1]) {
      for (const how of ['view', 'base64', 'dataUrl'] as const) {
        const result = assertTakenOrRefused(encode(largest.subarray(0, size), how), DEFAULT_MAX_BYTES);
        assert.equal(Buffer.isBuffer(result), size <= DEFAULT_MAX_BYTES, `${size} bytes as ${how}`);
      }
    }
    const holes: number[] = [];
    holes.length = DEFAULT_MAX_BYTES + 1;
    assert.ok(assertTakenOrRefused({ type: 'Buffer', data: holes }, DEFAULT_MAX_BYTES) instanceof ApiError);
  });

  it('sniffImageType names JPEG and PNG by their magic alone, for Buffers and plain Uint8Arrays', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 20 }),
      fc
        .tuple(
          fc.constantFrom(JPEG_MAGIC, PNG_MAGIC, PNG_MAGIC.subarray(0, 7)),
          fc.uint8Array({ maxLength: 10 }),
        )
        .map(([magic, rest]) => Uint8Array.from([...magic, ...rest])),
    );
    fc.assert(
      fc.property(bytes, fc.boolean(), (array, asBuffer) => {
        const expected =
          array.length >= 3 && JPEG_MAGIC.equals(array.subarray(0, 3))
            ? 'image/jpeg'
            : array.length >= 8 && PNG_MAGIC.equals(array.subarray(0, 8))
              ? 'image/png'
              : undefined;
        const view = asBuffer ? Buffer.from(array) : array;
        assert.equal(sniffImageType(view), expected);
      }),
      { numRuns: 2000 },
    );
  });

  describe('oversized or invalid images are refused before anything is sent', () => {
    let api: FakeApi;
    before(async () => {
      api = await startFakeApi();
    });
    after(() => api.close());

    /** Every client method that takes an image, with `image` in one of its image fields. */
    const uploads = {
      faceDetect: (c, image) => c.faceDetect({ image }),
      faceCompare: (c, image, other) => c.faceCompare({ image1: other, image2: image }),
      faceCompareFirst: (c, image, other) => c.faceCompare({ image1: image, image2: other }),
      faceEnroll: (c, image) => c.faceEnroll({ faceImage: image, personId: 'p' }),
      recognize: (c, image) => c.recognize({ croppedAligned: image, detectorName: 'door' }),
      lookup: (c, image) => c.lookup({ croppedAligned: image, embeddings: [0.5] }),
      publish: (c, image) => c.publish({ expanded: image, detectorName: 'door' }),
      publishWithResponse: (c, image, other) =>
        c.publishWithResponse({ expanded: other, croppedAligned: image, detectorName: 'door' }),
    } satisfies Record<
      string,
      (client: ReturnType<FakeApi['client']>, image: never, other: Buffer) => Promise<unknown>
    >;
    const operationOf = (name: string) => name.replace(/First$/, '');

    it('an image over the limit: INVALID_INPUT with the limit, and the server sees no request at all', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...(Object.keys(uploads) as (keyof typeof uploads)[])),
          fc.integer({ min: 16, max: 2000 }),
          fc.integer({ min: 1, max: 3000 }),
          encoding,
          async (name, maxImageBytes, excess, how) => {
            const client = api.client({ maxImageBytes });
            const image = encode(imageOfSize(maxImageBytes + excess), how) as never;
            const result = await uploads[name](client, image, imageOfSize(16)).then(
              () => undefined,
              (error: unknown) => error,
            );
            client.close();
            assertInvalidInput(result, operationOf(name), `over the limit of ${maxImageBytes} bytes`);
            assert.equal(api.requests.length + api.logins, 0, 'nothing sent, not even a login');
          },
        ),
        { numRuns: 200 },
      );
    });

    it('anything that is not an image: INVALID_INPUT, and nothing sent', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...(Object.keys(uploads) as (keyof typeof uploads)[])),
          // Left out: what toImageBuffer takes (rarely, e.g. the string "/9j/"), and undefined,
          // which publishWithResponse's optional croppedAligned takes; both would be sent.
          anythingAtAll.filter(
            (value) =>
              value !== undefined &&
              !outcome(() => toImageBuffer('faceDetect', 'image', value, { maxBytes: 1000 })).ok,
          ),
          async (name, value) => {
            const client = api.client({ maxImageBytes: 1000 });
            const result = await uploads[name](client, value as never, imageOfSize(16)).then(
              () => undefined,
              (error: unknown) => error,
            );
            client.close();
            assertInvalidInput(result, operationOf(name));
            assert.equal(api.requests.length + api.logins, 0, 'nothing sent, not even a login');
          },
        ),
        { numRuns: 200 },
      );
    });

    it('the default limit: 15 MiB + 1 is refused unsent; 15 MiB is sent (the server counts requests)', async () => {
      const client = api.client();
      const over = await client
        .faceDetect({ image: imageOfSize(DEFAULT_MAX_BYTES + 1) })
        .catch((e: unknown) => e);
      assertInvalidInput(over, 'faceDetect', `over the limit of ${DEFAULT_MAX_BYTES} bytes`);
      assert.equal(api.requests.length + api.logins, 0);
      await client.faceDetect({ image: imageOfSize(DEFAULT_MAX_BYTES) });
      client.close();
      assert.equal(api.requests.length, 1, 'the counter sees what is sent');
    });
  });
});
