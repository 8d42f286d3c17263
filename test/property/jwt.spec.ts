import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTokenTiming, localExpiry, type TokenTiming } from '../../client/jwt';
import { outcome, POLLUTING_KEYS, utf16String } from './support';

const MAX_DATE_MS = 8.64e15;

/** A claim of any JSON type, numbers at every scale among them. */
const claim = fc.oneof(
  fc.jsonValue(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(
    0,
    -0,
    1e308,
    -1e308,
    2 ** 53,
    4_000_000_000,
    'NaN',
    'Infinity',
    '-Infinity',
    '1e400',
    '12',
    null,
  ),
);
/** Claims as a token may carry them: exp and iat of any type, present or not, among other claims. */
const claims = fc.record(
  {
    exp: claim,
    iat: claim,
    sub: fc.string(),
    ...Object.fromEntries(POLLUTING_KEYS.map((key) => [key, fc.jsonValue()])),
  },
  { requiredKeys: [] },
);
const segment = fc.oneof(fc.base64String(), fc.string(), fc.constant(''));
/** A payload as servers (and garbage) write it: JSON in base64url, base64 with padding, or not JSON. */
const payload = fc.oneof(
  claims.map((c) => Buffer.from(JSON.stringify(c)).toString('base64url')),
  claims.map((c) => Buffer.from(JSON.stringify(c)).toString('base64')),
  fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? '').toString('base64url')),
  fc.oneof(fc.string(), utf16String(40)).map((text) => Buffer.from(text).toString('base64url')),
  segment,
);
const token = fc.oneof(
  fc.tuple(segment, payload, segment).map((parts) => parts.join('.')),
  fc.array(segment, { maxLength: 5 }).map((parts) => parts.join('.')),
  fc.string(),
  utf16String(80),
);

const finiteOrAbsent = (value: number | undefined) => value === undefined || Number.isFinite(value);

describe('property: JWT timing', () => {
  it('decodeTokenTiming: any text gives exp and iat as finite numbers or undefined, never a throw', () => {
    fc.assert(
      fc.property(token, (text) => {
        const result = outcome(() => decodeTokenTiming(text));
        assert.ok(result.ok, String(result.ok || result.error));
        const timing = result.value;
        assert.ok(finiteOrAbsent(timing.exp) && finiteOrAbsent(timing.iat), JSON.stringify(timing));
        assert.deepEqual(
          Object.keys(timing).filter((key) => timing[key as keyof TokenTiming] !== undefined),
          ['exp', 'iat'].filter((key) => timing[key as keyof TokenTiming] !== undefined),
        );
      }),
      { numRuns: 5000 },
    );
  });

  it('decodeTokenTiming: a finite number claim is read as it is; any other type is undefined', () => {
    fc.assert(
      fc.property(claims, (c) => {
        const timing = decodeTokenTiming(`h.${Buffer.from(JSON.stringify(c)).toString('base64url')}.s`);
        const expected = (value: unknown) => {
          const parsed: unknown = JSON.parse(JSON.stringify(value ?? null));
          return typeof parsed === 'number' && Number.isFinite(parsed) ? parsed : undefined;
        };
        assert.equal(timing.exp, Object.hasOwn(c, 'exp') ? expected(c.exp) : undefined);
        assert.equal(timing.iat, Object.hasOwn(c, 'iat') ? expected(c.iat) : undefined);
      }),
      { numRuns: 3000 },
    );
  });

  it('localExpiry: any timing and arrival give a finite time within Date range, or undefined without exp', () => {
    const seconds = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer({ min: 0, max: 2 ** 33 }),
      fc.constantFrom(1e306, -1e306, 1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE),
    );
    fc.assert(
      fc.property(
        fc.option(seconds, { nil: undefined }),
        fc.option(seconds, { nil: undefined }),
        fc.integer({ min: 0, max: MAX_DATE_MS }),
        (exp, iat, receivedAt) => {
          const expiry = localExpiry({ exp, iat }, receivedAt);
          if (exp === undefined) return void assert.equal(expiry, undefined);
          assert.ok(expiry !== undefined && Number.isFinite(expiry), String(expiry));
          assert.ok(Math.abs(expiry) <= MAX_DATE_MS, String(expiry));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('localExpiry: a lifetime from iat counts from arrival; without iat exp is read as epoch seconds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000_000_000 }),
        fc.integer({ min: 1, max: 10 ** 7 }),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        (iat, lifetime, receivedAt) => {
          assert.equal(localExpiry({ iat, exp: iat + lifetime }, receivedAt), receivedAt + lifetime * 1000);
          assert.equal(localExpiry({ exp: iat }, receivedAt), iat * 1000);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('localExpiry: an exp too large for a number of ms stays finite and keeps its order (regression)', () => {
    assert.equal(localExpiry({ exp: 1e306 }, 0), MAX_DATE_MS);
    assert.equal(localExpiry({ exp: 1e308, iat: -1e308 }, 1000), MAX_DATE_MS);
    assert.equal(localExpiry({ exp: -1e306 }, 0), -MAX_DATE_MS);
    assert.equal(
      localExpiry(decodeTokenTiming(`h.${Buffer.from('{"exp":1e306}').toString('base64url')}.s`), 0),
      MAX_DATE_MS,
    );
  });
});
